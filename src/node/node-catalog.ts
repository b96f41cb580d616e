// The node's catalog of databases (RefugeNode's base class): the names it lists, in its own small
// store so every engine can list them; creations and deletions of one name run one at a time; and
// where each database's storage lives, removed where the catalog no longer lists it.

import { RefugeError } from '../errors/index.ts';
import { validateDbName } from '../documents/index.ts';
import type { KvStore } from '../storage/index.ts';
import type { DbUpdates } from './db-updates.ts';
import type { NodeOptions } from './node-options.ts';

/** Catalog keys: a listed database's name, and its `_security` object. */
export const CATALOG_PREFIX = 'db!';
export const SECURITY_PREFIX = 'sec!';

function isDbName(name: string): boolean {
  try {
    validateDbName(name);
    return true;
  } catch {
    return false;
  }
}

export class NodeCatalog {
  protected readonly lifecycle = new Map<string, Promise<void>>();
  protected closed = false;

  protected constructor(
    protected readonly options: NodeOptions,
    protected readonly catalog: KvStore,
    protected readonly updates: DbUpdates,
  ) {}

  protected check(): void {
    if (this.closed) throw new RefugeError('closed', 'the node is shutting down');
  }

  async allDbs(): Promise<string[]> {
    this.check();
    const out: string[] = [];
    for await (const keys of this.catalog.scanKeys({ gte: CATALOG_PREFIX, lt: 'db"' })) {
      for (const k of keys) out.push(k.slice(CATALOG_PREFIX.length));
    }
    return out;
  }

  async exists(name: string): Promise<boolean> {
    this.check();
    return this.listed(name);
  }

  /** Whether the catalog lists `name`; for creations and deletions accepted before the node began closing. */
  protected async listed(name: string): Promise<boolean> {
    return (await this.catalog.get(CATALOG_PREFIX + name)) !== undefined;
  }

  protected indexLocation(name: string): string {
    return this.options.indexLocationOf?.(name) ?? `${this.options.locationOf(name)}.idx`;
  }

  /** Removes what database `name` keeps in storage (its documents, its indexes), if anything. */
  protected async removeStorage(name: string): Promise<void> {
    await this.options.engine.destroy(this.options.locationOf(name));
    await this.options.engine.destroy(this.indexLocation(name));
  }

  /**
   * Removes the storage of databases the catalog does not list, by name (`stored`: the names found
   * at their locations): what a crash in the middle of a deletion left. Meant for a node just
   * opened, before anything creates a database in it. Answers the names removed.
   */
  async removeUnlisted(stored: Iterable<string>): Promise<string[]> {
    this.check();
    const removed: string[] = [];
    for (const name of stored) {
      // Only a database's own location: anything else found there is not ours to remove.
      if (!isDbName(name) || (await this.listed(name))) continue;
      await this.byName(name, async () => {
        if (!(await this.listed(name))) await this.removeStorage(name);
      });
      removed.push(name);
    }
    return removed;
  }

  /**
   * Creations and deletions of one name, one at a time: concurrent `PUT /db` get one 201 and 412s
   * (not a lock error from a second open), concurrent deletes one 200 and 404s.
   */
  protected byName<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.lifecycle.get(name) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.lifecycle.set(name, settled);
    void settled.then(() => {
      if (this.lifecycle.get(name) === settled) this.lifecycle.delete(name);
    });
    return run;
  }
}
