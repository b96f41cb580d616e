// The libp2p configuration of a MeshNode: which transports and services run, by role (hub or not)
// and by reach (loopback only, or a real network where mDNS, UPnP and AutoNAT make sense).

import '#mesh/node20-shim';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { autoNAT } from '@libp2p/autonat';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { dcutr } from '@libp2p/dcutr';
import { identify } from '@libp2p/identify';
import type { ConnectionGater, PrivateKey } from '@libp2p/interface';
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht';
import { ping } from '@libp2p/ping';
import { uPnPNAT } from '@libp2p/upnp-nat';
import { webSockets } from '@libp2p/websockets';
import { multiaddr } from '@multiformats/multiaddr';
import type { Libp2pOptions } from 'libp2p';
import { mdnsService, socketTransports } from '#mesh/node-parts';

/** Refuge's own DHT: a private protocol id, so it never mixes with the public IPFS DHT. */
export const KAD_PROTOCOL = '/refuge/kad/1.0.0';
/** The mDNS service name Refuge nodes announce and query (not IPFS's `_p2p._udp.local`). */
export const MDNS_SERVICE_TAG = '_refuge._udp.local';

/** The least time a connection-monitor ping may take before libp2p drops the connection. */
const PING_TIMEOUT_MIN_MS = 30_000;
/**
 * How long this node waits for a ping's bytes once a peer opened a ping stream (libp2p: 10 s). On
 * a slow link the asker sends them only after the protocol answer crossed the queue back, so a
 * 10 s wait here cut pings the asker was still willing to wait for, and its monitor then dropped
 * the connection (test/mesh/slow-link.test.ts). Longer than any wait the asker allows itself.
 */
const PING_ANSWER_TIMEOUT_MS = 2 * PING_TIMEOUT_MIN_MS;
/**
 * Ping streams per connection each way (libp2p: 1 out, 2 in). The monitor pings every 10 s
 * whatever the last ping is doing, so behind a 30 s queue three of its pings wait at once, and a
 * refused fourth stream counts as a failed ping that drops the connection.
 */
const PING_STREAMS = 4;

export interface DiscoverySettings {
  listen: readonly string[];
  /** LAN discovery; default on when some listen address is not loopback. */
  mdns?: boolean | { intervalMs?: number };
  /** Run circuit relay v2 as a server and the DHT in server mode. */
  hub: boolean;
  /** How many hubs this node uses (DCUtR runs only then). */
  hubCount: number;
  dht: boolean;
  /** UPnP port mapping and AutoNAT; default on when some listen address is not loopback. */
  nat?: boolean;
  connectionGater?: ConnectionGater;
  /** libp2p's own redials of a dropped keep-alive peer: how many, the first after `intervalMs`. */
  reconnect?: { retries: number; intervalMs: number };
}

/** True when every listen address is loopback (or a relay): nothing on a LAN can see this node. */
export function loopbackOnly(listen: readonly string[]): boolean {
  return listen.every((text) => {
    const host = multiaddr(text).getComponents()[0];
    if (host === undefined) return true;
    if (host.name === 'p2p-circuit') return true;
    if (host.name === 'ip4') return host.value?.startsWith('127.') === true;
    if (host.name === 'ip6') return host.value === '::1';
    return host.name === 'dns' || host.name === 'dns4' || host.name === 'dns6' ? host.value === 'localhost' : false;
  });
}

/** Which optional parts actually run, once defaults are applied. */
export function resolvedParts(s: DiscoverySettings): { mdns: boolean; nat: boolean } {
  const open = !loopbackOnly(s.listen);
  const mdns = mdnsService !== undefined && (s.mdns === undefined ? open : s.mdns !== false);
  return { mdns, nat: s.nat ?? open };
}

export function libp2pOptions(s: DiscoverySettings, privateKey: PrivateKey): Libp2pOptions<Record<string, unknown>> {
  const parts = resolvedParts(s);
  const services: Record<string, (components: never) => unknown> = {
    identify: identify(),
    ping: ping({ timeout: PING_ANSWER_TIMEOUT_MS, maxOutboundStreams: PING_STREAMS, maxInboundStreams: PING_STREAMS }),
  };
  if (s.dht) {
    services.dht = kadDHT({
      protocol: KAD_PROTOCOL,
      // Only hubs answer DHT queries: ordinary nodes may sit behind NATs and come and go.
      clientMode: !s.hub,
      // A private mesh lives on LANs and loopback: private addresses are the useful ones.
      peerInfoMapper: passthroughMapper,
      // Refuge stores no DHT records: only the built-in public-key validator runs, others are refused.
      validators: {},
      selectors: {},
    });
  }
  if (parts.mdns && mdnsService) {
    const interval = typeof s.mdns === 'object' ? s.mdns.intervalMs : undefined;
    services.mdns = mdnsService({ serviceTag: MDNS_SERVICE_TAG, ...(interval !== undefined && { interval }) });
  }
  if (s.hub) {
    // A hub relays for the peers that trust it enough to register: no per-connection data or time limit,
    // so replication runs over the relay (limited relays would need DCUtR before any real transfer).
    services.relay = circuitRelayServer({ reservations: { applyDefaultLimit: false, maxReservations: 1024 } });
  } else if (s.hubCount > 0) {
    services.dcutr = dcutr();
  }
  if (parts.nat) {
    services.autoNAT = autoNAT({ protocolPrefix: 'refuge' });
    // The router's answer is trusted: AutoNAT cannot confirm a mapped address to a hub we are already
    // connected to (its dial-back reuses our connection and is refused), so DCUtR would never learn a
    // public address to offer (test/mesh/netns-dcutr.test.ts shows the upgrade once one is known).
    services.upnp = uPnPNAT({ portMappingDescription: 'refuge-mesh', autoConfirmAddress: true });
  }
  return {
    privateKey,
    // Relay listening (`<hub>/p2p-circuit`) starts once a hub is connected (mesh-discovery.ts): a bare
    // `/p2p-circuit` would make libp2p random-walk the DHT for relays in a loop while a hub is away.
    addresses: { listen: [...s.listen] },
    transports: [...socketTransports.map((t) => t()), webSockets(), circuitRelayTransport({ reservationCompletionTimeout: 10_000 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // libp2p in a browser refuses, by default, to dial ws:// or private addresses; a Refuge peer
    // dials only peers it trusts, often a node on the same machine or LAN, so it may.
    connectionGater: { denyDialMultiaddr: () => false, ...s.connectionGater },
    ...(s.reconnect && { connectionManager: { reconnectRetries: s.reconnect.retries, reconnectRetryInterval: s.reconnect.intervalMs } }),
    // libp2p pings every connection each 10 s and drops it when a ping takes longer than a timeout
    // fitted to past pings (at least 5 s by default). A ping queued behind megabytes of a blob on a
    // slow or lossy link takes longer than that, so the transfer killed its own connection and
    // started over, again and again. At least 30 s: such queues pass, a dead link is still noticed.
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT_MIN_MS } },
    services: services as Libp2pOptions<Record<string, unknown>>['services'],
  };
}
