// The IndexedDB engine (browser-level) for browsers: one IndexedDB database per store. IndexedDB has
// no snapshots that outlive a task, so the Level adapter keeps them (storage/snapshot-overlay.ts).

import { BrowserLevel } from 'browser-level';
import { RefugeError } from '../errors/index.ts';
import { LevelKvStore, type KvStore, type OpenStoreOptions, type StorageEngine } from '../storage/index.ts';

export interface IndexedDbOptions {
  /** Prefix of the IndexedDB database names (default `refuge-`), so Refuge's never mix with others. */
  prefix?: string;
}

/**
 * Every key is stored behind one fixed character: order is unchanged, and the empty key (a valid
 * Refuge key) becomes a non-empty one, which every IndexedDB accepts as a binary key.
 */
const prefixedKeys = {
  name: 'refuge-prefixed-utf8',
  format: 'utf8' as const,
  encode: (key: string) => '!' + key,
  decode: (stored: string) => stored.slice(1),
};

/** Locations open in this page or worker; Web Locks extend the rule to other tabs where present. */
const held = new Set<string>();

interface LockManager {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void> | undefined): Promise<unknown>;
}

/**
 * One writer per store, as LevelDB's lock gives on disk: a database's counters live in its
 * writer's memory, so a second page writing the same store would corrupt them.
 */
async function acquire(name: string): Promise<() => void> {
  const locked = () => new RefugeError('internal', `IndexedDB store ${name} is already open (in use in this or another tab)`);
  if (held.has(name)) throw locked();
  held.add(name);
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (!locks) return () => held.delete(name);
  let release: () => void = () => undefined;
  const granted = await new Promise<boolean>((resolve, reject) => {
    locks
      .request(`refuge-store:${name}`, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : new Promise<void>((done) => (release = done));
      })
      .catch(reject);
  }).catch((err: unknown) => {
    held.delete(name);
    throw new RefugeError('internal', `cannot lock IndexedDB store ${name}`, { cause: err });
  });
  if (!granted) {
    held.delete(name);
    throw locked();
  }
  return () => {
    held.delete(name);
    release();
  };
}

const CAPABILITIES = {
  persistent: true,
  // IndexedDB commits each transaction, but a page cannot ask for an fsync.
  syncWrites: false,
  getSync: false,
  approximateSize: false,
  diskSize: false,
  compactRange: false,
};

/** The Level adapter, with the store's lock let go when it closes. */
class IndexedDbStore extends LevelKvStore {
  private release: (() => void) | undefined;

  constructor(db: BrowserLevel<string, string>, release: () => void) {
    // Keys are stored as UTF-8 bytes, which IndexedDB orders bytewise: LevelDB's order.
    super(db as never, 'indexeddb', CAPABILITIES);
    this.release = release;
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      this.release?.();
      this.release = undefined;
    }
  }
}

export function indexedDbEngine(options: IndexedDbOptions = {}): StorageEngine {
  const prefix = options.prefix ?? 'refuge-';
  return {
    name: 'indexeddb',
    async open({ location }: OpenStoreOptions): Promise<KvStore> {
      const release = await acquire(prefix + location);
      const db = new BrowserLevel<string, string>(location, { prefix, keyEncoding: prefixedKeys, valueEncoding: 'utf8' });
      try {
        await db.open();
      } catch (err) {
        release();
        throw new RefugeError('internal', `cannot open IndexedDB store ${prefix}${location}`, { cause: err });
      }
      return new IndexedDbStore(db, release);
    },
    async destroy(location: string): Promise<void> {
      if (held.has(prefix + location)) throw new RefugeError('internal', `IndexedDB store ${prefix}${location} is open`);
      await BrowserLevel.destroy(location, prefix);
    },
  };
}
