// The shapes a MeshNode is configured with and the events it emits (kept apart from mesh-node.ts so
// that file stays about behaviour).

import type { ConnectionGater } from '@libp2p/interface';
import type { RefugeNode } from '../node/core.ts';
import type { NodeKey } from '../refs/keys.ts';
import type { BlobResumeOptions } from './blob-resume.ts';
import type { HubRegistryOptions } from './hub-registry.ts';
import type { DiscoveredEvent, HubRegisteredEvent } from './mesh-discovery.ts';
import type { MeshPeerOptions } from './mesh-peer.ts';
import type { TrustStore } from './trust-store.ts';

/** Loopback only by default: exposing a node to the network is the caller's explicit choice. */
export const DEFAULT_MESH_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'];

export interface MeshNodeOptions {
  /** The node's key pair: its peer id derives from it. */
  key: NodeKey;
  trust: TrustStore;
  /** Multiaddrs to listen on (default: loopback TCP and WebSockets, ports chosen by the OS). */
  listen?: readonly string[];
  /** Serves this node's databases to peers over `/refuge/replication/1.0.0`, as grants allow. */
  node?: RefugeNode;
  /** Keep trusted peers with known addresses connected: dial them at start, redial when they drop (default true). */
  keepTrustedConnected?: boolean;
  /** Staging of partial blobs and retries of cut blob transfers (`/refuge/blobs/1.0.0`). */
  blobResume?: BlobResumeOptions;
  /** Options of the MeshPeers `peer()` makes. */
  peerOptions?: MeshPeerOptions;
  /** Publish the listen addresses in `<dir>/mesh-addresses.json` while running (for `refuge id --invite`). */
  publishAddressesTo?: string;
  /** mDNS on the LAN (default: on when some listen address is not loopback); found peers are dialled if trusted. */
  mdns?: boolean | { intervalMs?: number };
  /** Be a hub: circuit relay v2 server, `/refuge/hub/1.0.0` registry, DHT server (options: registration TTL, clock). */
  hub?: boolean | HubRegistryOptions;
  /** Hubs (`/…/p2p/<id>`) to dial, register with, listen through and ask for peers' addresses. */
  hubs?: readonly string[];
  /** Kademlia DHT on `/refuge/kad/1.0.0`, client mode unless a hub (default on). */
  dht?: boolean;
  /** UPnP port mapping and AutoNAT (default: on when some listen address is not loopback). */
  nat?: boolean;
  /** Which addresses and peers libp2p may dial or accept (tests use it to forbid direct dials). */
  connectionGater?: ConnectionGater;
  /**
   * How often the trust state is looked at again (ms, default 1000): the CLI edits `trust.json`
   * while the node runs, and a removed peer or a revoked grant must take effect at once.
   */
  trustCheckMs?: number;
  /**
   * libp2p redials a dropped trusted peer a few times (about half a minute), then gives up; from
   * then on it is dialled again every `redialMs` (default 30 s) for as long as it stays trusted, so
   * a long outage heals by itself. `reconnect` tunes libp2p's own attempts (tests make them quick).
   */
  redialMs?: number;
  reconnect?: { retries: number; intervalMs: number };
}

export interface PeerEvent {
  peerId: string;
  name?: string;
}

export type MeshEvents = {
  /** A trusted peer connected (or a connected peer became trusted). */
  'peer:up': PeerEvent;
  /** A trusted peer's last connection closed (or it stopped being trusted, or this node stopped). */
  'peer:down': PeerEvent;
  /** A peer was found by mDNS, a hub or the DHT (untrusted ones are only reported, never dialled). */
  'peer:discovered': DiscoveredEvent;
  /** This node (re)registered its addresses with a hub. */
  'hub:registered': HubRegisteredEvent;
  /**
   * This node's addresses changed (a relay reservation through a hub, a NAT mapping): invites made
   * from now on carry them, and the data directory's address file has been rewritten.
   */
  addresses: { addrs: string[] };
  /** A trusted peer says what it shares with this node changed (a database made or granted there). */
  'peer:shares': PeerEvent;
  /** The trust state changed (peers, groups or grants): what is shared must be looked at again. */
  'trust:changed': Record<string, never>;
};
