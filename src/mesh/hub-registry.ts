// What a hub remembers about the peers registered with it: their addresses, each registration
// expiring unless renewed, so a hub never hands out addresses of a peer long gone.

/** A registration lives this long unless the peer renews it (peers renew at half of it). */
export const DEFAULT_REGISTRATION_TTL_MS = 10 * 60_000;
/** Bounds what one peer (or a flood of peer ids) can make a hub hold. */
export const MAX_REGISTERED_ADDRS = 32;
export const MAX_REGISTRATIONS = 10_000;

export interface Registration {
  peerId: string;
  addrs: string[];
  /** Epoch ms after which the registration is forgotten. */
  expires: number;
}

export interface HubRegistryOptions {
  ttlMs?: number;
  /** The clock (tests move it by hand to prove expiry without sleeping). */
  now?: () => number;
  maxRegistrations?: number;
}

export class HubRegistry {
  private readonly entries = new Map<string, Registration>();
  readonly ttlMs: number;
  private readonly now: () => number;
  private readonly max: number;

  constructor(options: HubRegistryOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_REGISTRATION_TTL_MS;
    this.now = options.now ?? Date.now;
    this.max = options.maxRegistrations ?? MAX_REGISTRATIONS;
  }

  /** Records (or renews) a peer's addresses; false when the hub is full of live registrations. */
  register(peerId: string, addrs: readonly string[]): Registration | undefined {
    this.sweep();
    if (!this.entries.has(peerId) && this.entries.size >= this.max) return undefined;
    const entry: Registration = { peerId, addrs: [...new Set(addrs)].slice(0, MAX_REGISTERED_ADDRS), expires: this.now() + this.ttlMs };
    // Re-inserting keeps the map in expiry order, which sweep relies on.
    this.entries.delete(peerId);
    this.entries.set(peerId, entry);
    return entry;
  }

  lookup(peerId: string): Registration | undefined {
    const entry = this.entries.get(peerId);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(peerId);
      return undefined;
    }
    return entry;
  }

  unregister(peerId: string): void {
    this.entries.delete(peerId);
  }

  /** Live registrations (expired ones are dropped on the way). */
  list(): Registration[] {
    this.sweep();
    return [...this.entries.values()];
  }

  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.entries) {
      if (entry.expires > now) break;
      this.entries.delete(id);
    }
  }
}
