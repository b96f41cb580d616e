// A node's databases: a catalog of names (node-catalog.ts, this class's base) and the open
// Database objects, opened lazily, shared by everyone who asks for the same name, and closed again
// when too many are open and nobody holds them (open-dbs.ts).

import { isRefugeError, RefugeError } from '../errors/index.ts';
import { MemoryBlobStore, type BlobStore } from '../blobs/core.ts';
import { Database, validateDbName, type Doc, type Durability } from '../documents/index.ts';
import type { KvStore } from '../storage/index.ts';
import { compileSelector } from '../core.ts';
import { forEachIndexValue } from '../query/index.ts';
import { generateNodeKey, type NodeKey } from '../refs/keys.ts';
import { MemoryRefStore, type RefStore } from '../refs/store.ts';
// The gc files one by one, not gc/index.ts: it also exports the pins file store, which needs node:fs.
import { BlobAddTracker, blobAgeOf } from '../gc/ages.ts';
import { collectGarbage, type GcOptions, type GcReport } from '../gc/gc.ts';
import { MemoryPinStore, watchedPins, type PinStore } from '../gc/pins.ts';
import { GcHolds } from '../gc/holds.ts';
import { attachDesign, type DbDesign } from '../design/index.ts';
import { hashStoredPasswords, hashUserPasswords, PBKDF2_ITERATIONS } from './user-passwords.ts';
import { checkNodeOptions } from './check-node-options.ts';
import { validateUserDoc } from './user-docs.ts';
import { ownReplicatorDocs, validateReplicatorDoc } from './replicator-docs-rules.ts';
import { DbUpdates, type DbUpdateRow, type DbUpdatesOptions } from './db-updates.ts';
import { AutoCompaction } from './auto-compaction.ts';
import { AutoBlobGc, type AutoBlobGcStatus } from './auto-blob-gc.ts';
import { candidatePuts, catalogCandidateLog } from './gc-candidates.ts';
import { checkSecurityObject, defaultSecurity } from './security-object.ts';
import { OpenDbs, type DbLease } from './open-dbs.ts';
import { DEFAULT_MAX_OPEN_DBS, type NodeOptions } from './node-options.ts';
import { CATALOG_PREFIX, NodeCatalog, SECURITY_PREFIX } from './node-catalog.ts';

export type { DbLease } from './open-dbs.ts';

export class RefugeNode extends NodeCatalog {
  private readonly dbs: OpenDbs;
  private closing: Promise<void> | undefined;
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
  /** Writers holding gc off while they store blobs they name only at the end (snapshots). */
  readonly gcHolds = new GcHolds();

  private constructor(options: NodeOptions, catalog: KvStore, updates: DbUpdates, gcCarried: string[]) {
    super(options, catalog, updates);
    this.blobs = options.blobs ?? new MemoryBlobStore();
    this.key = options.key ?? generateNodeKey();
    this.refs = options.refs ?? new MemoryRefStore();
    if (options.blobGc) {
      this.autoBlobGc = new AutoBlobGc(
        (only, graceMs, signal) => this.collectBlobGarbage({ only, graceMs, signal }),
        options.blobGc,
        () => this.gcHolds.count > 0,
        catalogCandidateLog(catalog),
        gcCarried,
      );
    }
    const gc = this.autoBlobGc;
    this.pins = gc ? watchedPins(options.pins ?? new MemoryPinStore(), (root) => gc.referencesDropped([root])) : (options.pins ?? new MemoryPinStore());
    this.blobAdds = new BlobAddTracker(this.blobs, gc && (() => gc.blobAdded()));
    this.dbs = new OpenDbs(options.maxOpenDbs ?? DEFAULT_MAX_OPEN_DBS, (name) => this.openDb(name, {}));
    this.passwordIterations = options.passwordIterations ?? PBKDF2_ITERATIONS;
    if (options.autoCompaction !== false) this.autoCompaction = new AutoCompaction((name) => this.lease(name), options.autoCompaction);
  }

  private readonly autoCompaction: AutoCompaction | undefined;
  private readonly autoBlobGc: AutoBlobGc | undefined;
  private readonly passwordIterations: number;
  private replicatorDocCheck: ((doc: Doc) => RefugeError | undefined) | undefined;

  /** Looks now, as the node does every minute, for written databases worth compacting; answers those compacted. */
  async compactWhereWorth(): Promise<string[]> {
    this.check();
    return (await this.autoCompaction?.lookNow()) ?? [];
  }

  /**
   * Blob garbage collection: deletes the blobs that no ref (any value it had), pin or attachment of
   * a stored revision reaches, once older than the grace period (default 10 minutes). Refused
   * (`conflict`) while a writer holds gc off, as Kubo's gc waits for `ipfs add`.
   */
  async collectBlobGarbage(options: Pick<GcOptions, 'graceMs' | 'dryRun' | 'allowMissing' | 'signal' | 'only'> = {}): Promise<GcReport> {
    this.check();
    const holds = this.gcHolds.count;
    if (holds > 0 && options.dryRun !== true) {
      throw new RefugeError('conflict', `gc is held off by ${holds} writer(s) storing blobs they have not named yet (a snapshot); try again once they are done`);
    }
    return collectGarbage(this.blobs, {
      refs: this.refs,
      pins: this.pins,
      extraRoots: () => this.attachmentBlobIds(),
      ageOf: blobAgeOf(this.blobs, this.blobAdds),
      ...options,
    });
  }

  /** Collects now, as the node does by itself, if blobs may have become garbage since the last time. */
  async collectBlobsWhereDue(): Promise<GcReport | undefined> {
    this.check();
    return this.autoBlobGc?.lookNow();
  }

  /**
   * What the layer that runs `_replicator` documents (jobs) refuses in them when they are written,
   * as CouchDB's replicator does: a document it could never run. None while no such layer runs.
   */
  setReplicatorDocCheck(check: ((doc: Doc) => RefugeError | undefined) | undefined): void {
    this.replicatorDocCheck = check;
  }

  /** The node's own gc: what it has still to look at and what it last did; undefined when it is off. */
  blobGcStatus(): AutoBlobGcStatus | undefined {
    return this.autoBlobGc?.status();
  }

  /** Every blob id an attachment of any database names (winners and kept revisions): gc's roots beside refs and pins. */
  async *attachmentBlobIds(): AsyncGenerator<string> {
    for (const name of await this.allDbs()) {
      // Held one at a time: a node with many databases keeps only a few open (maxOpenDbs).
      let lease: DbLease;
      try {
        lease = await this.lease(name);
      } catch (err) {
        // Deleted since it was listed: its attachments are no roots any more.
        if (isRefugeError(err, 'not_found')) continue;
        throw err;
      }
      try {
        yield* lease.db.attachmentBlobIds();
      } finally {
        lease.release();
      }
    }
  }

  static async open(options: NodeOptions): Promise<RefugeNode> {
    checkNodeOptions(options);
    const catalog = await options.engine.open({ location: options.catalogLocation });
    try {
      const carried = options.blobGc ? await catalogCandidateLog(catalog).load() : [];
      return new RefugeNode(options, catalog, await DbUpdates.open(catalog, (options.durability ?? 'durable') === 'durable'), carried);
    } catch (err) {
      await catalog.close();
      throw err;
    }
  }

  /** The data directory on disk, or undefined for a node that keeps nothing on disk. */
  get dataDir(): string | undefined {
    return this.options.dataDir;
  }

  get durability(): Durability {
    return this.options.durability ?? 'durable';
  }

  /**
   * Creates database `name` and returns it held for good, as `db()` does. `hold: false` (the HTTP
   * API) creates it, closes it again if room is needed, and returns nothing.
   */
  async createDb(name: string, options?: { autoIndex?: boolean }): Promise<Database>;
  async createDb(name: string, options: { autoIndex?: boolean; hold: false }): Promise<void>;
  async createDb(name: string, options: { autoIndex?: boolean; hold?: boolean } = {}): Promise<Database | void> {
    this.check();
    validateDbName(name);
    return this.byName(name, () => this.createLocked(name, options));
  }

  private async createLocked(name: string, options: { autoIndex?: boolean; hold?: boolean }): Promise<Database | void> {
    if (await this.listed(name)) {
      throw new RefugeError('file_exists', 'The database could not be created, the file already exists.');
    }
    // Whatever lies at its location was left by a database of this name whose deletion (or
    // creation) a crash cut short: the catalog, written first, says it is gone, and a new
    // database starts empty, never with the old one's documents or indexes.
    await this.removeStorage(name);
    // Opened (created on disk, with its autoIndex setting) before it is listed, so a listed
    // database always opens.
    const opened = await this.openDb(name, { ...options, created: true });
    const held = options.hold === false ? undefined : this.dbs.adopt(name, opened, 'pin');
    if (held === undefined) this.dbs.adopt(name, opened);
    await this.updates.record('created', name, [{ type: 'put', key: CATALOG_PREFIX + name, value: JSON.stringify({ created: Date.now() }) }]);
    return held;
  }

  /**
   * The open database `name`, held for good (never closed before the node): for callers that keep
   * it, as an embedding application does. not_found when it was never created.
   */
  async db(name: string): Promise<Database> {
    this.check();
    await this.checkExists(name);
    return this.dbs.hold(name, 'pin');
  }

  /**
   * Database `name` held until `release()`: what a request uses, so that a node serving many
   * databases keeps only `maxOpenDbs` of them open. not_found when it was never created.
   */
  async lease(name: string): Promise<DbLease> {
    this.check();
    await this.checkExists(name);
    return this.dbs.lease(name);
  }

  /**
   * CouchDB's `_db_updates`: databases created, updated (written to) and deleted, one row per
   * database and event type at its latest sequence. `updated` rows come within a quarter second.
   */
  async dbUpdates(options: DbUpdatesOptions = {}): Promise<{ results: DbUpdateRow[]; lastSeq: number }> {
    this.check();
    if (options === null || typeof options !== 'object') throw new RefugeError('bad_request', 'options must be an object');
    for (const name of ['since', 'limit'] as const) {
      const v = options[name];
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new RefugeError('bad_request', `${name} must be a non-negative integer`);
    }
    if (options.descending !== undefined && typeof options.descending !== 'boolean') throw new RefugeError('bad_request', 'descending must be a boolean');
    return this.updates.read(options);
  }

  /** Live `_db_updates`: batches of rows after `since`, until `signal` aborts or the node closes. */
  subscribeDbUpdates(options: { since?: number; batchSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<DbUpdateRow[], void, undefined> {
    this.check();
    return this.updates.subscribe(options);
  }

  /** The `_db_updates` sequence now (`since=now`). */
  get dbUpdatesSeq(): number {
    return this.updates.currentSeq;
  }

  /** The bound on open databases this node keeps (CouchDB's max_dbs_open). */
  get maxOpenDbs(): number {
    return this.options.maxOpenDbs ?? DEFAULT_MAX_OPEN_DBS;
  }

  /** How many databases are open now (held ones, and up to `maxOpenDbs` others). */
  get openDbCount(): number {
    return this.dbs.size;
  }

  /** An open database exists (deleteDb forgets it first): no catalog read then. */
  override async exists(name: string): Promise<boolean> {
    this.check();
    return this.dbs.isOpen(name) || this.listed(name);
  }

  private async checkExists(name: string): Promise<void> {
    // An open database exists (deleteDb forgets it first): no catalog read on the hot path.
    if (this.dbs.isOpen(name)) return;
    if (typeof name !== 'string' || !(await this.exists(name))) {
      throw new RefugeError('not_found', 'Database does not exist.');
    }
  }

  /** `created`: opened by its creation; otherwise a listed database, whose storage must be there. */
  private async openDb(name: string, options: { autoIndex?: boolean; created?: boolean }): Promise<{ db: Database; design: DbDesign }> {
    const db = await Database.open(name, {
      engine: this.options.engine,
      location: this.options.locationOf(name),
      mustExist: options.created !== true,
      durability: this.options.durability,
      autoIndex: options.autoIndex,
      indexEntries: forEachIndexValue,
      compileSelector,
      blobs: this.blobs,
    });
    if (db.recoveryLoss !== undefined) this.options.onDamage?.(name, db.recoveryLoss);
    const onDamage = this.options.onDamage;
    if (onDamage) db.onDamage = (loss) => onDamage(name, loss);
    // Watched from here on: a database's own creation is reported as `created` only.
    db.watchCommits(() => {
      this.updates.touched(name);
      this.autoCompaction?.touched(name);
    });
    const gc = this.autoBlobGc;
    if (gc) db.watchDrops({ dropped: (named) => gc.referencesDropped(named), mayDrop: (named) => gc.referencesMayDrop(named) });
    if (name === '_users') db.setWritePreparation(hashUserPasswords(this.passwordIterations));
    if (name === '_replicator') db.setWritePreparation(ownReplicatorDocs);
    const design = attachDesign(db, {
      secObj: () => this.security(name),
      ...(name === '_users' && { validate: validateUserDoc }),
      ...(name === '_replicator' && { validate: (next, old, user) => validateReplicatorDoc(next, old, user) ?? this.replicatorDocCheck?.(next) }),
      ...(this.options.sandbox && { sandbox: this.options.sandbox }),
      openIndexStore: () => this.options.engine.open({ location: this.indexLocation(name) }),
    });
    // Versions before passwords were hashed stored them as written: hashed now, so those users
    // log in (login takes the derived key only) and no password stays in clear in the database.
    if (name === '_users') await hashStoredPasswords(db).catch(() => undefined);
    return { db, design };
  }

  /**
   * The design-document layer of database `name` (validation, filters, views, search). Hold the
   * database (a lease) while using it: it closes with the database.
   */
  async design(name: string): Promise<DbDesign> {
    const open = this.dbs.design(name);
    if (open) return open;
    await this.db(name);
    return this.dbs.design(name)!;
  }

  /** CouchDB's `_security` object of a database (CouchDB 3's admin-only one until one is set). */
  async security(name: string): Promise<Record<string, unknown>> {
    const raw = await this.catalog.get(SECURITY_PREFIX + name);
    return raw === undefined ? defaultSecurity() : (JSON.parse(raw) as Record<string, unknown>);
  }

  async setSecurity(name: string, sec: unknown): Promise<void> {
    await this.checkExists(name);
    checkSecurityObject(sec);
    await this.catalog.batch([{ type: 'put', key: SECURITY_PREFIX + name, value: JSON.stringify(sec) }], { sync: this.durability === 'durable' });
  }

  async deleteDb(name: string): Promise<void> {
    this.check();
    validateDbName(name);
    return this.byName(name, () => this.deleteLocked(name));
  }

  private async deleteLocked(name: string): Promise<void> {
    if (!(await this.listed(name))) throw new RefugeError('not_found', 'Database does not exist.');
    // Its attachments, for the node's own gc: those no other database names go with it.
    const named = this.autoBlobGc ? await this.attachmentsOf(name) : undefined;
    // Noted as gc candidates in the batch that deletes it: a restart right after cannot lose them.
    await this.updates.record('deleted', name, [
      { type: 'del', key: CATALOG_PREFIX + name },
      { type: 'del', key: SECURITY_PREFIX + name },
      ...candidatePuts(named ?? []),
    ]);
    this.autoCompaction?.forget(name);
    const { db, design } = await this.dbs.take(name);
    await design?.close();
    if (db) await db.destroy();
    await this.removeStorage(name);
    if (named) this.autoBlobGc?.referencesDropped(named, true);
  }

  /** A database's attachments, read before it is deleted; none when it cannot be read (they wait for gc by hand). */
  private async attachmentsOf(name: string): Promise<string[]> {
    let lease: DbLease;
    try {
      lease = await this.dbs.lease(name);
    } catch {
      // Its storage is gone or damaged: its deletion goes on all the same.
      return [];
    }
    try {
      const ids: string[] = [];
      for await (const id of lease.db.attachmentBlobIds()) ids.push(id);
      return ids;
    } catch {
      return [];
    } finally {
      lease.release();
    }
  }

  /** Flushes and closes every open database, the catalog and the blob store. */
  /** Asked again while closing, it answers when the first close is done. */
  close(): Promise<void> {
    return (this.closing ??= this.closeNow());
  }

  private async closeNow(): Promise<void> {
    this.closed = true;
    this.blobAdds.stop();
    // Creations and deletions under way finish first (new ones are refused now): a database being
    // created would otherwise open after every other closed, and be closed by nobody in time.
    await Promise.all(this.lifecycle.values());
    // A compaction under way ends with its database.
    const compacting = this.autoCompaction?.stop();
    const collecting = this.autoBlobGc?.stop();
    try {
      await this.dbs.closeAll();
      await compacting;
      await collecting;
      await this.updates.close();
      // Both closed before anything is reported: the lock below must outlive every store.
      const closed = await Promise.allSettled([this.catalog.close(), this.blobs.close()]);
      const failed = closed.find((c) => c.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      await this.options.onClosed?.();
    }
  }
}
