// A node's databases: a catalog of names (in its own small store, so every engine can list them)
// and the open Database objects, opened lazily and shared by everyone who asks for the same name.

import { RefugeError } from '../errors/index.ts';
import { MemoryBlobStore, type BlobStore } from '../blobs/core.ts';
import { Database, validateDbName, type Durability } from '../documents/index.ts';
import type { KvStore, StorageEngine } from '../storage/index.ts';
import { compileSelector } from '../core.ts';
import { forEachIndexEntry } from '../query/index.ts';
import { generateNodeKey, type NodeKey } from '../refs/keys.ts';
import { MemoryRefStore, type RefStore } from '../refs/store.ts';
import { BlobAddTracker } from '../gc/ages.ts';
import { MemoryPinStore, type PinStore } from '../gc/pins.ts';
import { attachDesign, type DbDesign } from '../design/index.ts';

export interface NodeOptions {
  engine: StorageEngine;
  /** Where the catalog and the databases live, as the engine understands locations. */
  locationOf: (dbName: string) => string;
  /** Where a database's indexes (views, search) live; default beside it, `<location>.idx`. */
  indexLocationOf?: (dbName: string) => string;
  catalogLocation: string;
  durability?: Durability;
  /** The node's blob store, closed with the node (default: a fresh memory store). */
  blobs?: BlobStore;
  /** The node's data directory on disk, when it has one (staged uploads live under it). */
  dataDir?: string;
  /** The node's Ed25519 key (mesh identity, signer of its refs); default a fresh one. */
  key?: NodeKey;
  /** Signed refs (snapshots, ...); default in memory. */
  refs?: RefStore;
  /** Blobs gc must keep; default in memory. */
  pins?: PinStore;
  /** Limits for design-document functions (default 5 s and 64 MiB per call). */
  sandbox?: { timeoutMs?: number; memoryBytes?: number };
}

const CATALOG_PREFIX = 'db!';
const SECURITY_PREFIX = 'sec!';

export class RefugeNode {
  private readonly open = new Map<string, Promise<Database>>();
  private readonly designs = new Map<string, DbDesign>();
  private closed = false;
  /** The node's content-addressed blob store (attachments, files, `/_blobs`). */
  readonly blobs: BlobStore;
  /** The node's Ed25519 key pair: its mesh identity and the signer of its refs. */
  readonly key: NodeKey;
  /** Signed refs: mutable names pointing at blob trees (snapshots). */
  readonly refs: RefStore;
  /** Blob ids and roots kept by gc whatever refs say. */
  readonly pins: PinStore;
  /** When blobs were added while this node runs (gc's grace period on stores without file times). */
  readonly blobAdds: BlobAddTracker;

  private constructor(
    private readonly options: NodeOptions,
    private readonly catalog: KvStore,
  ) {
    this.blobs = options.blobs ?? new MemoryBlobStore();
    this.key = options.key ?? generateNodeKey();
    this.refs = options.refs ?? new MemoryRefStore();
    this.pins = options.pins ?? new MemoryPinStore();
    this.blobAdds = new BlobAddTracker(this.blobs);
  }

  static async open(options: NodeOptions): Promise<RefugeNode> {
    const catalog = await options.engine.open({ location: options.catalogLocation });
    return new RefugeNode(options, catalog);
  }

  /** The data directory on disk, or undefined for a node that keeps nothing on disk. */
  get dataDir(): string | undefined {
    return this.options.dataDir;
  }

  get durability(): Durability {
    return this.options.durability ?? 'durable';
  }

  private check(): void {
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
    return (await this.catalog.get(CATALOG_PREFIX + name)) !== undefined;
  }

  async createDb(name: string, options: { autoIndex?: boolean } = {}): Promise<Database> {
    this.check();
    validateDbName(name);
    if (await this.exists(name)) {
      throw new RefugeError('file_exists', 'The database could not be created, the file already exists.');
    }
    const db = await this.openDb(name, options);
    await this.catalog.batch([{ type: 'put', key: CATALOG_PREFIX + name, value: JSON.stringify({ created: Date.now() }) }], {
      sync: this.durability === 'durable',
    });
    return db;
  }

  /** The open database `name`; not_found when it was never created. */
  async db(name: string): Promise<Database> {
    this.check();
    const cached = this.open.get(name);
    if (cached) return cached;
    if (typeof name !== 'string' || !(await this.exists(name))) {
      throw new RefugeError('not_found', 'Database does not exist.');
    }
    return this.openDb(name, {});
  }

  private openDb(name: string, options: { autoIndex?: boolean }): Promise<Database> {
    let p = this.open.get(name);
    if (!p) {
      p = Database.open(name, {
        engine: this.options.engine,
        location: this.options.locationOf(name),
        durability: this.options.durability,
        autoIndex: options.autoIndex,
        indexEntries: forEachIndexEntry,
        compileSelector,
        blobs: this.blobs,
      }).then((db) => {
        this.designs.set(
          name,
          attachDesign(db, {
            secObj: () => this.security(name),
            ...(this.options.sandbox && { sandbox: this.options.sandbox }),
            openIndexStore: () => this.options.engine.open({ location: this.indexLocation(name) }),
          }),
        );
        return db;
      });
      this.open.set(name, p);
      p.catch(() => this.open.delete(name));
    }
    return p;
  }

  private indexLocation(name: string): string {
    return this.options.indexLocationOf?.(name) ?? `${this.options.locationOf(name)}.idx`;
  }

  /** The design-document layer of database `name` (validation, filters, views, search). */
  async design(name: string): Promise<DbDesign> {
    await this.db(name);
    return this.designs.get(name)!;
  }

  /** CouchDB's `_security` object of a database (`{}` until one is set). */
  async security(name: string): Promise<Record<string, unknown>> {
    const raw = await this.catalog.get(SECURITY_PREFIX + name);
    return raw === undefined ? {} : (JSON.parse(raw) as Record<string, unknown>);
  }

  async setSecurity(name: string, sec: unknown): Promise<void> {
    await this.db(name);
    if (sec === null || typeof sec !== 'object' || Array.isArray(sec)) throw new RefugeError('bad_request', 'the security object must be a JSON object');
    for (const part of ['admins', 'members']) {
      const v = (sec as Record<string, unknown>)[part];
      if (v === undefined) continue;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RefugeError('bad_request', `${part} must be an object`);
      for (const list of ['names', 'roles']) {
        const l = (v as Record<string, unknown>)[list];
        if (l !== undefined && (!Array.isArray(l) || !l.every((x) => typeof x === 'string'))) {
          throw new RefugeError('bad_request', `${part}.${list} must be an array of strings`);
        }
      }
    }
    await this.catalog.batch([{ type: 'put', key: SECURITY_PREFIX + name, value: JSON.stringify(sec) }], { sync: this.durability === 'durable' });
  }

  async deleteDb(name: string): Promise<void> {
    this.check();
    validateDbName(name);
    if (!(await this.exists(name))) throw new RefugeError('not_found', 'Database does not exist.');
    await this.catalog.batch(
      [
        { type: 'del', key: CATALOG_PREFIX + name },
        { type: 'del', key: SECURITY_PREFIX + name },
      ],
      { sync: this.durability === 'durable' },
    );
    const p = this.open.get(name);
    this.open.delete(name);
    await this.designs.get(name)?.close();
    this.designs.delete(name);
    if (p) await (await p).destroy();
    else await this.options.engine.destroy(this.options.locationOf(name));
    await this.options.engine.destroy(this.indexLocation(name));
  }

  /** Flushes and closes every open database, the catalog and the blob store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.blobAdds.stop();
    await Promise.all([...this.designs.values()].map((d) => d.close()));
    this.designs.clear();
    const dbs = await Promise.allSettled(this.open.values());
    await Promise.all(dbs.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    this.open.clear();
    await Promise.all([this.catalog.close(), this.blobs.close()]);
  }
}
