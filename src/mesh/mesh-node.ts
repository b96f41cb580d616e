// A node's presence on the mesh: libp2p (TCP + WebSockets, Noise, Yamux, identify, ping) keyed by
// the node's own Ed25519 key, serving Refuge's protocols, finding peers (mDNS, hubs, DHT) and telling
// when trusted peers come and go.

import '#mesh/node20-shim';
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { Ping } from '@libp2p/ping';
import { multiaddr } from '@multiformats/multiaddr';
import { checkListenAddrs, startFailure } from './start-checks.ts';
import { createLibp2p } from 'libp2p';
import { DEFAULT_MESH_LISTEN, type MeshEvents, type MeshNodeOptions, type PeerEvent } from './mesh-node-options.ts';
import { RefugeError } from '../errors/index.ts';
import { Emitter } from '../replication/emitter.ts';
import { removeAddressFile, writeAddressFile } from '#mesh/address-file';
import { meshPrivateKey } from './identity.ts';
import { encodeInvite, parseInvite } from './invite.ts';
import { MeshPeer, meshRequest, sharedDbs, type MeshPeerOptions, type StreamOpener } from './mesh-peer.ts';
import { ReplicationService } from './replication-server.ts';
import { BLOB_PROTOCOL, BlobExchange } from './blob-exchange.ts';
import { QUERY_PROTOCOL } from './query-protocol.ts';
import { REFS_PROTOCOL, RefExchange } from './ref-exchange.ts';
import { QueryService } from './query-service.ts';
import { HUB_PROTOCOL, hubHandler } from './hub-protocol.ts';
import { HubRegistry } from './hub-registry.ts';
import { libp2pOptions } from './libp2p-options.ts';
import { DHT_LOOKUP_MS, MeshDiscovery, dhtFind, type DiscoveryHost } from './mesh-discovery.ts';
import { CHANGES_FEED_PROTOCOL, REPLICATION_PROTOCOL, REPLICATION_PROTOCOL_MANY, type SharedDb } from './replication-protocol.ts';
import { PeerPresence } from './peer-presence.ts';
import { openConnectionTo } from './connection-wait.ts';
import { StreamPool } from './stream-pool.ts';
import { TrustedDialer } from './trusted-dialer.ts';
import type { TrustState } from './trust.ts';
import type { TrustStore } from './trust-store.ts';

export { DEFAULT_MESH_LISTEN, type MeshEvents, type MeshNodeOptions, type PeerEvent };

/** Concurrent Refuge streams per connection: replications of many databases share one connection. */
const MAX_STREAMS = 256;

type Services = { ping: Ping };

export class MeshNode extends Emitter<MeshEvents> implements StreamOpener {
  /** Trusted peers up; peer events are handled one at a time, in the order libp2p reported them. */
  private readonly presence = new PeerPresence((name, event) => this.emit(name, event));
  private stopped = false;
  /** The addresses last published (address file, `addresses` event), space-separated. */
  private published = '';
  /** Flooded queries (`/refuge/query/1.0.0`): `mesh.queries.ask({kind:'find', selector, db})`. */
  readonly queries: QueryService;
  /** Blobs from and to peers (`/refuge/blobs/1.0.0`): have, get (verified), want. */
  readonly blobs: BlobExchange;
  /** Replication streams kept open between requests (`/refuge/replication/1.1.0`). */
  readonly streamPool = new StreamPool();
  /** Signed refs from and to peers (`/refuge/refs/1.0.0`): list, history, pull (with the tree's blobs). */
  readonly refs: RefExchange;
  /** The peers registered with this node, when it is a hub. */
  readonly hubRegistry: HubRegistry | undefined;
  private discovery!: MeshDiscovery;
  /** The trust state syncTrust last acted on, and the timer that looks for a newer one. */
  private trustSeen: TrustState | undefined;
  private trustTimer: ReturnType<typeof setInterval> | undefined;
  private trustChecking = false;
  /** Keeps trusted peers connected (keep-alive tags, dials, redials). */
  private readonly dialer: TrustedDialer;

  private constructor(
    private readonly libp2p: Libp2p<Services>,
    private readonly options: MeshNodeOptions,
  ) {
    super();
    this.dialer = new TrustedDialer(libp2p as unknown as Libp2p, {
      trust: options.trust,
      keep: options.keepTrustedConnected !== false,
      ...(options.redialMs !== undefined && { redialMs: options.redialMs }),
    });
    const node = options.node;
    this.queries = new QueryService(this, { key: options.key, trust: options.trust, ...(node && { node }) });
    this.blobs = new BlobExchange(this, { trust: options.trust, ...(node && { node }), ...(options.blobResume && { resume: options.blobResume }) });
    this.refs = new RefExchange(this, { trust: options.trust, blobs: this.blobs, ...(node && { node }) });
    this.hubRegistry = options.hub ? new HubRegistry(options.hub === true ? {} : options.hub) : undefined;
  }

  static async start(options: MeshNodeOptions): Promise<MeshNode> {
    checkListenAddrs(options.listen ?? []);
    checkListenAddrs(options.hubs ?? [], 'of a hub (--mesh-hub)');
    const privateKey = await meshPrivateKey(options.key);
    let libp2p: Libp2p<Services>;
    try {
      const settings = {
        listen: options.listen ?? DEFAULT_MESH_LISTEN,
        hub: options.hub !== undefined && options.hub !== false,
        hubCount: options.hubs?.length ?? 0,
        dht: options.dht !== false,
        ...(options.mdns !== undefined && { mdns: options.mdns }),
        ...(options.nat !== undefined && { nat: options.nat }),
        ...(options.connectionGater && { connectionGater: options.connectionGater }),
        ...(options.reconnect && { reconnect: options.reconnect }),
      };
      libp2p = (await createLibp2p(libp2pOptions(settings, privateKey))) as unknown as Libp2p<Services>;
    } catch (err) {
      throw new RefugeError('unavailable', `the mesh could not start: ${startFailure(err)}`, { cause: err });
    }
    const mesh = new MeshNode(libp2p, options);
    try {
      if (options.node) {
        const service = new ReplicationService({ node: options.node, trust: options.trust, onRescan: (peerId) => mesh.emit('peer:shares', { peerId }) });
        await mesh.handle(REPLICATION_PROTOCOL, service.handler);
        await mesh.handle(REPLICATION_PROTOCOL_MANY, service.manyHandler);
        await mesh.handle(CHANGES_FEED_PROTOCOL, service.feedHandler);
        await mesh.handle(BLOB_PROTOCOL, mesh.blobs.handler);
        await mesh.handle(REFS_PROTOCOL, mesh.refs.handler);
      }
      await mesh.handle(QUERY_PROTOCOL, mesh.queries.handler);
      if (mesh.hubRegistry) {
        // A lookup for a peer not registered here is forwarded to the DHT (other hubs).
        const forward = (peerId: string, signal: AbortSignal) => dhtFind(libp2p, peerId, AbortSignal.any([signal, AbortSignal.timeout(DHT_LOOKUP_MS)]));
        await mesh.handle(HUB_PROTOCOL, hubHandler({ registry: mesh.hubRegistry, forward }));
      }
      mesh.discovery = new MeshDiscovery(libp2p, mesh.discoveryHost(), options.hubs ?? []);
      libp2p.addEventListener('peer:connect', (e) => mesh.presence.queue(() => mesh.onConnect(e.detail)));
      libp2p.addEventListener('peer:disconnect', (e) => mesh.presence.queue(() => mesh.onDisconnect(e.detail.toString())));
      libp2p.addEventListener('peer:reconnect-failure', (e) => mesh.dialer.scheduleRedial(e.detail));
      libp2p.addEventListener('self:peer:update', () => mesh.presence.queue(() => mesh.onAddresses()));
      await mesh.discovery.start();
      await mesh.syncTrust();
      mesh.watchTrust();
      mesh.published = mesh.addresses().join(' ');
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
    return this.presence.list();
  }

  /** Every connected peer, trusted or not. */
  connectedPeers(): string[] {
    return this.libp2p.getPeers().map((p) => p.toString());
  }

  /** Dials an invite, a `/…/p2p/<id>` multiaddr or a known peer id; answers the peer id. */
  async connect(target: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const invite = parseInvite(target);
    const id = peerIdFromString(invite.id);
    let addrs = invite.addrs;
    // A bare id: ask the hubs and the DHT where it is, unless libp2p already knows.
    if (addrs.length === 0 && !(await this.dialer.knowsAddresses(id))) addrs = await this.discovery.locate(invite.id, options.signal);
    if (addrs.length > 0) await this.libp2p.peerStore.merge(id, { multiaddrs: addrs.map((a) => multiaddr(a)) });
    if (await this.dialer.isTrusted(invite.id)) await this.dialer.keepAlive(id, true);
    try {
      await this.libp2p.dial(id, options);
    } catch (err) {
      // Both sides dialling at once (e.g. through a hub) may cut one attempt: the other connection counts.
      if (this.libp2p.getConnections(id).length === 0) throw new RefugeError('unavailable', `cannot connect to ${invite.id}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    return invite.id;
  }

  /** Closes every connection to a peer and stops redialing it until `connect` or `syncTrust`. */
  async disconnect(peerId: string): Promise<void> {
    const id = peerIdFromString(peerId);
    await this.dialer.keepAlive(id, false);
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
  peer(peerId: string, dbName: string, options: MeshPeerOptions = {}): MeshPeer {
    return new MeshPeer(this, peerIdFromString(peerId).toString(), dbName, { ...this.options.peerOptions, ...options });
  }

  /** The databases a remote node lets this one read or write. */
  sharedDbs(peerId: string, options: { signal?: AbortSignal } = {}): Promise<SharedDb[]> {
    return sharedDbs(this, peerId, options);
  }

  /**
   * Tells a connected peer that what this node shares with it changed, so it looks again now
   * rather than at its next periodic look. Never dials; false when the peer did not take it.
   */
  async tellSharesChanged(peerId: string): Promise<boolean> {
    return meshRequest(this, peerId, { op: 'rescan' }, { timeoutMs: 10_000, dial: false }).then(
      () => true,
      () => false,
    );
  }

  /** Serves a protocol (Refuge's own at start; tests and extensions may add or replace one). */
  async handle(protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>): Promise<void> {
    await this.libp2p.unhandle(protocol);
    await this.libp2p.handle(protocol, handler, { maxInboundStreams: MAX_STREAMS, maxOutboundStreams: MAX_STREAMS });
  }

  async openStream(peerId: string, protocol: string | string[], signal?: AbortSignal, options: { dial?: boolean } = {}): Promise<Stream> {
    if (this.stopped) throw new RefugeError('closed', 'the mesh node is stopped');
    const id = peerIdFromString(peerId);
    const open = await openConnectionTo(this.libp2p, id, () => this.dialer.knowsAddresses(id), signal);
    if (open) return open.newStream(protocol, { ...(signal && { signal }) });
    if (options.dial === false) throw new RefugeError('unavailable', `not connected to peer ${peerId}`);
    return this.libp2p.dialProtocol(id, protocol, { ...(signal && { signal }) });
  }

  /**
   * Brings libp2p in line with the trust state after it changed: trusted peers' addresses known and
   * kept alive, up/down events for connected peers that became (un)trusted, then `trust:changed`.
   */
  async syncTrust(): Promise<void> {
    const state = await this.options.trust.current();
    const changed = this.trustSeen !== undefined && state !== this.trustSeen;
    this.trustSeen = state;
    await this.dialer.learn(state);
    await this.presence.queue(async () => this.presence.reconcile(this.connectedPeers(), state));
    if (this.dialer.keep) {
      await this.dialer.dialAll(state, this.connectedPeers());
      // The rest is looked for through the hubs and the DHT.
      this.discovery.reachTrusted().catch(() => undefined);
    }
    if (changed) this.emit('trust:changed', {});
  }

  /**
   * Looks at the trust state every `trustCheckMs`: when it changed (a store answers a new object
   * for a new state), libp2p is brought in line (removed peers go down, added ones are dialled) and
   * `trust:changed` tells what shares by grants (AutoSync) to look again.
   */
  private watchTrust(): void {
    this.trustTimer = setInterval(() => {
      if (this.trustChecking || this.stopped) return;
      this.trustChecking = true;
      void (async () => {
        try {
          if ((await this.options.trust.current()) === this.trustSeen || this.stopped) return;
          await this.syncTrust();
        } catch {
          // A damaged trust file fails closed at every use; the next check tries again.
        } finally {
          this.trustChecking = false;
        }
      })();
    }, this.options.trustCheckMs ?? 1000);
    (this.trustTimer as { unref?: () => void }).unref?.();
  }

  /** Where a peer is, found through the hubs or the DHT (empty when nobody knows). */
  locate = (peerId: string, options: { signal?: AbortSignal } = {}): Promise<string[]> => this.discovery.locate(peerIdFromString(peerId).toString(), options.signal);

  /** Stops listening, closes every connection; `peer:down` for each peer that was up. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.trustTimer);
    this.dialer.stop();
    this.streamPool.clear();
    this.queries.close();
    this.discovery?.stop();
    if (this.options.publishAddressesTo !== undefined) await removeAddressFile(this.options.publishAddressesTo);
    await this.libp2p.stop();
    await this.blobs.close();
    await this.presence.queue(async () => this.presence.markAllDown());
  }

  private async onConnect(id: PeerId): Promise<void> {
    const peerId = id.toString();
    if (this.stopped || this.presence.has(peerId) || this.libp2p.getConnections(id).length === 0) return;
    const state = await this.options.trust.current();
    if (Object.hasOwn(state.peers, peerId)) this.presence.markUp(peerId, state);
  }

  /** New addresses (e.g. through a hub): republished for `refuge id --invite`, and announced. */
  private async onAddresses(): Promise<void> {
    if (this.stopped) return;
    const addrs = this.addresses();
    if (addrs.join(' ') === this.published) return;
    this.published = addrs.join(' ');
    if (this.options.publishAddressesTo !== undefined) await writeAddressFile(this.options.publishAddressesTo, this.peerId, addrs).catch(() => undefined);
    this.emit('addresses', { addrs });
  }

  private async onDisconnect(peerId: string): Promise<void> {
    this.streamPool.clear(peerId);
    this.presence.markDown(peerId);
  }

  private discoveryHost(): DiscoveryHost {
    return {
      peerId: this.peerId,
      addresses: () => this.addresses(),
      openStream: this.openStream.bind(this),
      isTrusted: (peerId) => this.dialer.isTrusted(peerId),
      unreachableTrusted: async () => (this.stopped ? [] : this.dialer.unreachable(this.connectedPeers())),
      dialTrusted: (peerId, addrs) => this.dialer.dialAt(peerId, addrs),
      discovered: (event) => this.emit('peer:discovered', event),
      registered: (event) => this.emit('hub:registered', event),
    };
  }
}
