// A node's presence on the mesh: libp2p (TCP + WebSockets, Noise, Yamux, identify, ping) keyed by
// the node's own Ed25519 key, serving Refuge's protocols and telling when trusted peers come and go.

import './node20-shim.ts';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { KEEP_ALIVE, type Connection, type Libp2p, type PeerId, type Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { ping, type Ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { RefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/index.ts';
import type { NodeKey } from '../refs/keys.ts';
import { Emitter } from '../replication/emitter.ts';
import { removeAddressFile, writeAddressFile } from './address-file.ts';
import { meshPrivateKey } from './identity.ts';
import { encodeInvite, parseInvite } from './invite.ts';
import { MeshPeer, sharedDbs, type MeshPeerOptions, type StreamOpener } from './mesh-peer.ts';
import { ReplicationService } from './replication-server.ts';
import { BLOB_PROTOCOL, BlobExchange } from './blob-exchange.ts';
import { QUERY_PROTOCOL } from './query-protocol.ts';
import { QueryService } from './query-service.ts';
import { REPLICATION_PROTOCOL, type SharedDb } from './replication-protocol.ts';
import type { TrustState } from './trust.ts';
import type { TrustStore } from './trust-store.ts';

/** Loopback only by default: exposing a node to the network is the caller's explicit choice. */
export const DEFAULT_MESH_LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'];
const KEEP_ALIVE_TAG = `${KEEP_ALIVE}-refuge-trusted`;
/** Concurrent Refuge streams per connection: replications of many databases share one connection. */
const MAX_STREAMS = 256;

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
  /** Options of the MeshPeers `peer()` makes. */
  peerOptions?: MeshPeerOptions;
  /** Publish the listen addresses in `<dir>/mesh-addresses.json` while running (for `refuge id --invite`). */
  publishAddressesTo?: string;
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
};

type Services = { ping: Ping };

export class MeshNode extends Emitter<MeshEvents> implements StreamOpener {
  private readonly up = new Map<string, PeerEvent>();
  /** Peer events are handled one at a time, in the order libp2p reported them. */
  private events: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Flooded queries (`/refuge/query/1.0.0`): `mesh.queries.ask({kind:'find', selector, db})`. */
  readonly queries: QueryService;
  /** Blobs from and to peers (`/refuge/blobs/1.0.0`): have, get (verified), want. */
  readonly blobs: BlobExchange;

  private constructor(
    private readonly libp2p: Libp2p<Services>,
    private readonly options: MeshNodeOptions,
  ) {
    super();
    const node = options.node;
    this.queries = new QueryService(this, { key: options.key, trust: options.trust, ...(node && { node }) });
    this.blobs = new BlobExchange(this, { trust: options.trust, ...(node && { node }) });
  }

  static async start(options: MeshNodeOptions): Promise<MeshNode> {
    const privateKey = await meshPrivateKey(options.key);
    let libp2p: Libp2p<Services>;
    try {
      libp2p = await createLibp2p({
        privateKey,
        addresses: { listen: [...(options.listen ?? DEFAULT_MESH_LISTEN)] },
        transports: [tcp(), webSockets()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify(), ping: ping() },
      });
    } catch (err) {
      throw new RefugeError('unavailable', `the mesh could not start: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    const mesh = new MeshNode(libp2p, options);
    try {
      if (options.node) {
        const service = new ReplicationService({ node: options.node, trust: options.trust });
        await mesh.handle(REPLICATION_PROTOCOL, service.handler);
        await mesh.handle(BLOB_PROTOCOL, mesh.blobs.handler);
      }
      await mesh.handle(QUERY_PROTOCOL, mesh.queries.handler);
      libp2p.addEventListener('peer:connect', (e) => mesh.queue(() => mesh.onConnect(e.detail)));
      libp2p.addEventListener('peer:disconnect', (e) => mesh.queue(() => mesh.onDisconnect(e.detail.toString())));
      await mesh.syncTrust();
      if (options.publishAddressesTo !== undefined) await writeAddressFile(options.publishAddressesTo, mesh.peerId, mesh.addresses());
    } catch (err) {
      await libp2p.stop();
      throw err;
    }
    return mesh;
  }

  /** This node's peer id (`12D3KooW…`). */
  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  /** The multiaddrs this node listens on, each ending in `/p2p/<peer id>`. */
  addresses(): string[] {
    return this.libp2p.getMultiaddrs().map((m) => m.toString());
  }

  /** A token another node accepts with `peers add` / `connect`: this peer id and its addresses. */
  invite(): string {
    return encodeInvite({ id: this.peerId, addrs: this.addresses() });
  }

  get trust(): TrustStore {
    return this.options.trust;
  }

  /** Trusted peers currently connected. */
  upPeers(): PeerEvent[] {
    return [...this.up.values()];
  }

  /** Every connected peer, trusted or not. */
  connectedPeers(): string[] {
    return this.libp2p.getPeers().map((p) => p.toString());
  }

  /** Dials an invite, a `/…/p2p/<id>` multiaddr or a known peer id; answers the peer id. */
  async connect(target: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const invite = parseInvite(target);
    const id = peerIdFromString(invite.id);
    if (invite.addrs.length > 0) await this.libp2p.peerStore.merge(id, { multiaddrs: invite.addrs.map((a) => multiaddr(a)) });
    if (await this.isTrusted(invite.id)) await this.keepAlive(id, true);
    try {
      await this.libp2p.dial(id, options);
    } catch (err) {
      throw new RefugeError('unavailable', `cannot connect to ${invite.id}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    return invite.id;
  }

  /** Closes every connection to a peer and stops redialing it until `connect` or `syncTrust`. */
  async disconnect(peerId: string): Promise<void> {
    const id = peerIdFromString(peerId);
    await this.keepAlive(id, false);
    await this.libp2p.hangUp(id);
  }

  /** Round-trip time to a peer, in ms. */
  async ping(peerId: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    try {
      return await this.libp2p.services.ping.ping(peerIdFromString(peerId), options);
    } catch (err) {
      throw new RefugeError('unavailable', `no ping answer from ${peerId}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
  }

  /** A remote node's database as a replication peer (for `replicate`, `sync`). */
  peer(peerId: string, dbName: string, options: MeshPeerOptions = this.options.peerOptions ?? {}): MeshPeer {
    return new MeshPeer(this, peerIdFromString(peerId).toString(), dbName, options);
  }

  /** The databases a remote node lets this one read or write. */
  sharedDbs(peerId: string, options: { signal?: AbortSignal } = {}): Promise<SharedDb[]> {
    return sharedDbs(this, peerId, options);
  }

  /** Serves a protocol (Refuge's own at start; tests and extensions may add or replace one). */
  async handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>): Promise<void> {
    await this.libp2p.unhandle(protocol);
    await this.libp2p.handle(protocol, handler, { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS });
  }

  async openStream(peerId: string, protocol: string, signal?: AbortSignal): Promise<Stream> {
    if (this.stopped) throw new RefugeError('closed', 'the mesh node is stopped');
    return this.libp2p.dialProtocol(peerIdFromString(peerId), protocol, { ...(signal && { signal }) });
  }

  /**
   * Brings libp2p in line with the trust state after it changed: trusted peers' addresses known and
   * kept alive, up/down events for connected peers that became (un)trusted.
   */
  async syncTrust(): Promise<void> {
    const state = await this.options.trust.current();
    const keep = this.options.keepTrustedConnected !== false;
    for (const peer of Object.values(state.peers)) {
      const id = peerIdFromString(peer.id);
      if (peer.addrs.length > 0) await this.libp2p.peerStore.merge(id, { multiaddrs: peer.addrs.map((a) => multiaddr(a)) });
      if (keep && peer.addrs.length > 0) await this.keepAlive(id, true);
    }
    await this.queue(async () => {
      for (const id of this.connectedPeers()) {
        if (Object.hasOwn(state.peers, id) && !this.up.has(id)) this.markUp(id, state);
        else if (!Object.hasOwn(state.peers, id) && this.up.has(id)) this.markDown(id);
      }
    });
    if (keep) {
      // Dial what is not connected yet; failures are normal (the peer may be offline) and retried by libp2p.
      for (const peer of Object.values(state.peers)) {
        if (peer.addrs.length > 0 && !this.connectedPeers().includes(peer.id)) this.libp2p.dial(peerIdFromString(peer.id)).catch(() => undefined);
      }
    }
  }

  /** Stops listening, closes every connection; `peer:down` for each peer that was up. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.queries.close();
    if (this.options.publishAddressesTo !== undefined) await removeAddressFile(this.options.publishAddressesTo);
    await this.libp2p.stop();
    await this.queue(async () => {
      for (const id of [...this.up.keys()]) this.markDown(id);
    });
  }

  private queue(task: () => Promise<void>): Promise<void> {
    const next = this.events.then(task);
    this.events = next.catch(() => undefined);
    return next;
  }

  private async onConnect(id: PeerId): Promise<void> {
    const peerId = id.toString();
    if (this.stopped || this.up.has(peerId) || this.libp2p.getConnections(id).length === 0) return;
    const state = await this.options.trust.current();
    if (Object.hasOwn(state.peers, peerId)) this.markUp(peerId, state);
  }

  private async onDisconnect(peerId: string): Promise<void> {
    if (this.up.has(peerId)) this.markDown(peerId);
  }

  private markUp(peerId: string, state: TrustState): void {
    const name = state.peers[peerId]?.name;
    const event: PeerEvent = name === undefined ? { peerId } : { peerId, name };
    this.up.set(peerId, event);
    this.emit('peer:up', event);
  }

  private markDown(peerId: string): void {
    const event = this.up.get(peerId)!;
    this.up.delete(peerId);
    this.emit('peer:down', event);
  }

  private async isTrusted(peerId: string): Promise<boolean> {
    return Object.hasOwn((await this.options.trust.current()).peers, peerId);
  }

  private async keepAlive(id: PeerId, on: boolean): Promise<void> {
    if (on && this.options.keepTrustedConnected === false) return;
    await this.libp2p.peerStore.merge(id, { tags: { [KEEP_ALIVE_TAG]: on ? { value: 1 } : undefined } });
  }
}
