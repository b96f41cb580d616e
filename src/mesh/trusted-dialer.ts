// Keeps trusted peers connected: libp2p's keep-alive tag on each (its reconnect queue then redials
// them), dials of those not connected when trust changes, and once libp2p gives up on one, a dial
// every `redialMs` for as long as it stays trusted.

import { KEEP_ALIVE, type Libp2p, type PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { TrustState } from './trust.ts';
import type { TrustStore } from './trust-store.ts';

const KEEP_ALIVE_TAG = `${KEEP_ALIVE}-refuge-trusted`;
/** How long one of the redials after libp2p gave up may take. */
const REDIAL_DIAL_MS = 20_000;

export interface TrustedDialerOptions {
  trust: TrustStore;
  /** False: no keep-alive tags and no dials of its own (peers are connected by hand). */
  keep: boolean;
  /** The wait between redials of a trusted peer libp2p gave up on (default 30 s). */
  redialMs?: number;
}

export class TrustedDialer {
  /** Trusted peers libp2p gave up redialling, each with the timer of its next dial. */
  private readonly redials = new Map<string, ReturnType<typeof setTimeout>>();
  private stopped = false;

  constructor(
    private readonly libp2p: Libp2p,
    private readonly options: TrustedDialerOptions,
  ) {}

  get keep(): boolean {
    return this.options.keep;
  }

  async isTrusted(peerId: string): Promise<boolean> {
    return Object.hasOwn((await this.options.trust.current()).peers, peerId);
  }

  async knowsAddresses(id: PeerId): Promise<boolean> {
    return ((await this.libp2p.peerStore.get(id).catch(() => undefined))?.addresses.length ?? 0) > 0;
  }

  async keepAlive(id: PeerId, on: boolean): Promise<void> {
    if (on && !this.options.keep) return;
    await this.libp2p.peerStore.merge(id, { tags: { [KEEP_ALIVE_TAG]: on ? { value: 1 } : undefined } });
  }

  /** Hands libp2p the addresses the trust state gives, and tags those peers to be kept connected. */
  async learn(state: TrustState): Promise<void> {
    for (const peer of Object.values(state.peers)) {
      if (peer.addrs.length === 0) continue;
      const id = peerIdFromString(peer.id);
      await this.libp2p.peerStore.merge(id, { multiaddrs: peer.addrs.map((a) => multiaddr(a)) });
      await this.keepAlive(id, true);
    }
  }

  /**
   * Dials the trusted peers not connected, at the addresses the trust state gives or that discovery
   * learnt (mDNS may have seen a peer before it was trusted). Failures are normal (the peer may be
   * offline) and retried by libp2p; peers with no known address are left to the hubs and the DHT.
   */
  async dialAll(state: TrustState, connected: readonly string[]): Promise<void> {
    if (!this.options.keep) return;
    for (const peer of Object.values(state.peers)) {
      if (connected.includes(peer.id)) continue;
      const id = peerIdFromString(peer.id);
      if (peer.addrs.length === 0 && !(await this.knowsAddresses(id))) continue;
      if (peer.addrs.length === 0) await this.keepAlive(id, true);
      this.libp2p.dial(id).catch(() => undefined);
    }
  }

  /** Trusted peers neither connected nor at any known address: for the hubs and the DHT to find. */
  async unreachable(connected: readonly string[]): Promise<string[]> {
    if (!this.options.keep) return [];
    const out: string[] = [];
    for (const peer of Object.values((await this.options.trust.current()).peers)) {
      if (!connected.includes(peer.id) && !(await this.knowsAddresses(peerIdFromString(peer.id)))) out.push(peer.id);
    }
    return out;
  }

  /** Dials a trusted peer at addresses found for it (by a hub or the DHT), and keeps it connected. */
  async dialAt(peerId: string, addrs: readonly string[]): Promise<void> {
    const id = peerIdFromString(peerId);
    await this.libp2p.peerStore.merge(id, { multiaddrs: addrs.map((a) => multiaddr(a)) });
    await this.keepAlive(id, true);
    await this.libp2p.dial(id);
  }

  /**
   * libp2p stopped redialling `id` (and dropped its keep-alive tag): a trusted peer is dialled again
   * every redialMs until it answers or stops being trusted, and keeps its tag once back.
   */
  scheduleRedial(id: PeerId): void {
    const peerId = id.toString();
    if (this.stopped || this.redials.has(peerId) || !this.options.keep) return;
    const timer = setTimeout(() => {
      this.redials.delete(peerId);
      void (async () => {
        try {
          if (this.stopped || !(await this.isTrusted(peerId)) || this.libp2p.getConnections(id).length > 0) return;
          await this.keepAlive(id, true);
          await this.libp2p.dial(id, { signal: AbortSignal.timeout(REDIAL_DIAL_MS) });
        } catch {
          // Still away (or the trust file unreadable for now): try again later.
          this.scheduleRedial(id);
        }
      })();
    }, this.options.redialMs ?? 30_000);
    (timer as { unref?: () => void }).unref?.();
    this.redials.set(peerId, timer);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.redials.values()) clearTimeout(timer);
    this.redials.clear();
  }
}
