// How a MeshNode finds peers beyond the addresses it was given: mDNS on the LAN, hubs (registered
// with, listened through as relays, asked for peers' addresses), and Refuge's private DHT.

import '#mesh/node20-shim';
import type { Libp2p, PeerId } from '@libp2p/interface';
import type { SingleKadDHT } from '@libp2p/kad-dht';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { RefugeError } from '../errors/index.ts';
import { hubLookup, hubRegister } from './hub-protocol.ts';
import type { StreamOpener } from './mesh-peer.ts';

/** A DHT lookup gives up after this long (a hub forwarding a lookup waits for it). */
export const DHT_LOOKUP_MS = 5_000;

export interface DiscoveredEvent {
  peerId: string;
  addrs: string[];
  via: 'mdns' | 'hub' | 'dht';
  /** Only trusted peers are dialled; others are just seen. */
  trusted: boolean;
}

export interface HubRegisteredEvent {
  hub: string;
  addrs: string[];
  ttlMs: number;
}

/** What discovery needs from the MeshNode it serves. */
export interface DiscoveryHost extends StreamOpener {
  readonly peerId: string;
  addresses(): string[];
  isTrusted(peerId: string): Promise<boolean>;
  /** Trusted peers that are not connected, with no address libp2p knows. */
  unreachableTrusted(): Promise<string[]>;
  /** Remembers addresses of a trusted peer and dials it (kept connected). */
  dialTrusted(peerId: string, addrs: string[]): Promise<void>;
  discovered(event: DiscoveredEvent): void;
  registered(event: HubRegisteredEvent): void;
}

interface Hub {
  id: PeerId;
  addr: Multiaddr;
  refresh?: ReturnType<typeof setTimeout>;
}

type Components = { transportManager: { listen(addrs: Multiaddr[]): Promise<void> } };

/** A peer's addresses as the DHT network (not this node's own peer store) tells them. */
export async function dhtFind(libp2p: Libp2p, peerId: string, signal: AbortSignal): Promise<string[]> {
  const dht = (libp2p.services as { dht?: SingleKadDHT }).dht;
  // An empty routing table would pause the query until a DHT server connects: nobody to ask.
  if (dht === undefined || dht.routingTable.size === 0) return [];
  const id = peerIdFromString(peerId);
  try {
    for await (const event of dht.getClosestPeers(id.toMultihash().bytes, { signal })) {
      if (event.name !== 'PEER_RESPONSE') continue;
      const match = event.closer.find((p) => p.id.equals(id));
      if (match && match.multiaddrs.length > 0) return match.multiaddrs.map((m) => m.toString());
    }
  } catch {
    // Timeouts and unreachable DHT peers only mean "not found".
  }
  return [];
}

export class MeshDiscovery {
  private readonly hubs = new Map<string, Hub>();
  private readonly seen = new Map<string, string>();
  private readonly relaying = new Set<string>();
  private stopped = false;
  private readonly cleanups: Array<() => void> = [];

  constructor(
    private readonly libp2p: Libp2p,
    private readonly host: DiscoveryHost,
    hubs: readonly string[],
  ) {
    for (const text of hubs) {
      const addr = multiaddr(text);
      const id = addr.getComponents().findLast((c) => c.name === 'p2p')?.value;
      if (id === undefined) throw new RefugeError('bad_request', `a hub address must end in /p2p/<peer id>: ${text}`);
      this.hubs.set(id, { id: peerIdFromString(id), addr });
    }
  }

  hubIds(): string[] {
    return [...this.hubs.keys()];
  }

  async start(): Promise<void> {
    const mdns = (this.libp2p.services as { mdns?: EventTarget }).mdns;
    if (mdns) this.listen(mdns, 'peer', (e) => void this.onMdnsPeer((e as CustomEvent<{ id: PeerId; multiaddrs: Multiaddr[] }>).detail));
    this.listen(this.libp2p, 'peer:connect', (e) => {
      const hub = this.hubs.get((e as CustomEvent<PeerId>).detail.toString());
      if (hub) void this.onHubUp(hub);
    });
    // Our addresses changed (a relay reservation came or went): tell the hubs.
    this.listen(this.libp2p, 'self:peer:update', () => {
      for (const hub of this.hubs.values()) if (this.connected(hub.id)) void this.register(hub);
    });
    for (const hub of this.hubs.values()) {
      // Tagged keep-alive so libp2p redials a hub that went away.
      await this.libp2p.peerStore.merge(hub.id, { multiaddrs: [hub.addr], tags: { 'keep-alive-refuge-hub': { value: 1 } } });
      this.libp2p.dial(hub.id).catch(() => undefined);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.cleanups.splice(0)) off();
    for (const hub of this.hubs.values()) clearTimeout(hub.refresh);
  }

  /** Addresses of a peer this node has none for: first the hubs, then the DHT. */
  async locate(peerId: string, signal: AbortSignal = AbortSignal.timeout(DHT_LOOKUP_MS * 2)): Promise<string[]> {
    for (const hub of this.hubs.values()) {
      if (!this.connected(hub.id) || hub.id.toString() === peerId) continue;
      const addrs = await hubLookup(this.host, hub.id.toString(), peerId, signal).catch(() => []);
      if (addrs.length > 0) return this.found(peerId, addrs, 'hub');
    }
    const addrs = await dhtFind(this.libp2p, peerId, AbortSignal.any([signal, AbortSignal.timeout(DHT_LOOKUP_MS)]));
    return addrs.length > 0 ? this.found(peerId, addrs, 'dht') : [];
  }

  /** Locates and dials every trusted peer that is neither connected nor has a known address. */
  async reachTrusted(): Promise<void> {
    for (const peerId of await this.host.unreachableTrusted()) {
      if (this.stopped) return;
      const addrs = await this.locate(peerId).catch(() => []);
      if (addrs.length > 0) await this.host.dialTrusted(peerId, addrs).catch(() => undefined);
    }
  }

  private async found(peerId: string, addrs: string[], via: DiscoveredEvent['via']): Promise<string[]> {
    this.host.discovered({ peerId, addrs, via, trusted: await this.host.isTrusted(peerId) });
    return addrs;
  }

  private async onMdnsPeer(peer: { id: PeerId; multiaddrs: Multiaddr[] }): Promise<void> {
    const peerId = peer.id.toString();
    const addrs = peer.multiaddrs.map((m) => m.toString());
    // mDNS answers repeat every interval: report a peer again only when its addresses changed.
    const key = addrs.join(' ');
    if (this.stopped || peerId === this.host.peerId || this.seen.get(peerId) === key) return;
    this.seen.set(peerId, key);
    const trusted = await this.host.isTrusted(peerId);
    this.host.discovered({ peerId, addrs, via: 'mdns', trusted });
    if (trusted && !this.connected(peer.id)) await this.host.dialTrusted(peerId, addrs).catch(() => undefined);
  }

  private async onHubUp(hub: Hub): Promise<void> {
    if (this.stopped) return;
    await this.relayThrough(hub);
    await this.register(hub);
    await this.reachTrusted();
  }

  /** Listens at `<hub>/p2p-circuit`, so peers that cannot reach this node directly reach it through the hub. */
  private async relayThrough(hub: Hub): Promise<void> {
    const key = hub.id.toString();
    const relayed = this.libp2p.getMultiaddrs().some((m) => m.toString().includes(`/p2p/${key}/p2p-circuit`));
    if (relayed || this.relaying.has(key)) return;
    this.relaying.add(key);
    try {
      const components = (this.libp2p as unknown as { components: Components }).components;
      await components.transportManager.listen([hub.addr.encapsulate('/p2p-circuit')]);
    } catch {
      // The hub refused a reservation or went away: registration still gives our direct addresses.
    } finally {
      this.relaying.delete(key);
    }
  }

  private async register(hub: Hub): Promise<void> {
    if (this.stopped) return;
    clearTimeout(hub.refresh);
    const addrs = this.host.addresses();
    let ttlMs = 30_000;
    try {
      ttlMs = (await hubRegister(this.host, hub.id.toString(), this.host.peerId, addrs)).ttlMs;
      if (!this.stopped) this.host.registered({ hub: hub.id.toString(), addrs, ttlMs });
    } catch {
      // Retried below (and at the next address change or reconnection).
    }
    if (this.stopped) return;
    // Renew well before the hub forgets us.
    hub.refresh = setTimeout(() => void (this.connected(hub.id) ? this.register(hub) : undefined), Math.max(1_000, ttlMs / 2));
    (hub.refresh as { unref?: () => void }).unref?.();
  }

  private connected(id: PeerId): boolean {
    return this.libp2p.getConnections(id).length > 0;
  }

  private listen(target: EventTarget | Libp2p, type: string, fn: (e: Event) => void): void {
    const t = target as EventTarget;
    t.addEventListener(type, fn);
    this.cleanups.push(() => t.removeEventListener(type, fn));
  }
}
