// The open databases of a node, shared by everyone who asks for the same name, with a bound on how
// many stay open: each LevelDB holds files and caches, and a node serving a database per user
// would otherwise run out of file descriptors (about 240 databases under the common 1024 limit).
// As CouchDB's max_dbs_open: past the bound, the least recently used databases nobody holds are
// closed, and opened again on the next request.

import type { Database } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { DbDesign } from '../design/index.ts';

/** A database held for a while (one HTTP request, one mesh request): never closed while held. */
export interface DbLease {
  readonly db: Database;
  /** Idempotent; the database may then be closed to make room for others. */
  release(): void;
}

interface Entry {
  opening: Promise<Database>;
  db?: Database;
  design?: DbDesign;
  leases: number;
  /** Held for good: handed out by `RefugeNode.db()`, whose callers keep no lease. */
  pinned: boolean;
}

export class OpenDbs {
  /** In least-recently-used order: every use moves a name to the end. */
  private readonly entries = new Map<string, Entry>();
  /** Databases being closed to make room: opening one again waits for its lock to be free. */
  private readonly closing = new Map<string, Promise<void>>();
  /**
   * Set by closeAll: later asks are refused. A caller that passed the node's own check before it
   * closed, and awaited something since, would otherwise open a database nobody ever closes.
   */
  private closed = false;

  private refuseClosed(): void {
    if (this.closed) throw new RefugeError('closed', 'the node is closed');
  }

  constructor(
    private readonly maxOpen: number,
    private readonly openOne: (name: string) => Promise<{ db: Database; design: DbDesign }>,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Opens `name` (or joins its opening) and holds it: pinned for good, or leased until released. */
  async hold(name: string, how: 'pin' | 'lease'): Promise<Database> {
    this.refuseClosed();
    let entry = this.entries.get(name);
    if (entry?.db?.failed && !entry.db.recoversItself && !entry.pinned) {
      // Its storage failed a write (a full disk, say) and its engine cannot reopen it in place:
      // it refuses writes until opened again. (One that can comes back on its next write, under
      // whoever holds it.) Not one handed out by RefugeNode.db(): its holders (the `_replicator`
      // watcher, embedding code) keep that object and its feeds, and are promised it stays open.
      this.entries.delete(name);
      const failed = entry;
      this.closing.set(name, this.closeEntry(failed).finally(() => this.closing.delete(name)));
      entry = undefined;
    }
    if (entry) {
      this.entries.delete(name);
      this.entries.set(name, entry);
    } else {
      const created: Entry = { opening: undefined as unknown as Promise<Database>, leases: 0, pinned: false };
      created.opening = this.open(name, created);
      entry = created;
      this.entries.set(name, entry);
    }
    // Counted before waiting: an entry being opened for someone is never the one evicted.
    if (how === 'pin') entry.pinned = true;
    else entry.leases++;
    try {
      return await entry.opening;
    } catch (err) {
      if (how === 'lease') entry.leases--;
      throw err;
    }
  }

  lease(name: string): Promise<DbLease> {
    return this.hold(name, 'lease').then((db) => {
      let held = true;
      return {
        db,
        release: () => {
          if (!held) return;
          held = false;
          const entry = this.entries.get(name);
          if (entry && entry.db === db) {
            entry.leases--;
            this.evictIdle();
          }
        },
      };
    });
  }

  /** Takes in a database just opened elsewhere (created with its own options), pinned or held by nobody. */
  adopt(name: string, opened: { db: Database; design: DbDesign }, how?: 'pin'): Database {
    this.entries.set(name, { opening: Promise.resolve(opened.db), ...opened, leases: 0, pinned: how === 'pin' });
    this.evictIdle();
    return opened.db;
  }

  /** Whether `name` is open or being opened. */
  isOpen(name: string): boolean {
    return this.entries.has(name);
  }

  /** The design layer of an open database (undefined when it is not open). */
  design(name: string): DbDesign | undefined {
    return this.entries.get(name)?.design;
  }

  private async open(name: string, entry: Entry): Promise<Database> {
    try {
      await this.closing.get(name);
      const { db, design } = await this.openOne(name);
      entry.db = db;
      entry.design = design;
    } catch (err) {
      if (this.entries.get(name) === entry) this.entries.delete(name);
      throw err;
    }
    this.evictIdle();
    return entry.db;
  }

  /** Closes least recently used databases nobody holds until at most `maxOpen` stay open. */
  private evictIdle(): void {
    if (this.entries.size <= this.maxOpen) return;
    for (const [name, entry] of this.entries) {
      if (this.entries.size <= this.maxOpen) return;
      if (entry.pinned || entry.leases > 0 || entry.db === undefined) continue;
      // Closing a store that keeps nothing (the memory engine) would lose its documents.
      if (!entry.db.core.store.capabilities.persistent) continue;
      this.entries.delete(name);
      this.closing.set(name, this.closeEntry(entry).finally(() => this.closing.delete(name)));
    }
  }

  private async closeEntry(entry: Entry): Promise<void> {
    // Indexes close before the database whose writes feed them.
    await entry.design?.close().catch(() => undefined);
    await entry.db?.close().catch(() => undefined);
  }

  /** Forgets `name` and returns its database, if open, for the caller to destroy. */
  async take(name: string): Promise<{ db?: Database; design?: DbDesign }> {
    const entry = this.entries.get(name);
    this.entries.delete(name);
    await this.closing.get(name);
    if (!entry) return {};
    const db = await entry.opening.catch(() => undefined);
    return { db, design: entry.design };
  }

  /** Closes everything (the node is closing). */
  async closeAll(): Promise<void> {
    this.closed = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(entries.map((e) => e.design?.close()));
    const dbs = await Promise.allSettled(entries.map((e) => e.opening));
    await Promise.all(dbs.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    await Promise.all(this.closing.values());
  }
}
