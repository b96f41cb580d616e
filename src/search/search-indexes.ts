// The search indexes of one database: opened on first query from the design document's current
// definition, kept by signature (a changed definition gets a fresh index; `cleanup` drops the stored
// data no design document uses any more) and caught up through an IndexFeeder per index.
import type { Database, Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { createSandbox } from '../sandbox/index.ts';
import { IndexFeeder, IndexHolds, type FeederOptions, type UpdateMode } from '../indexers/index.ts';
import type { KvStore } from '../storage/index.ts';
import { searchDefinitions, type SearchDefinition } from './definition.ts';
import { fieldsSource } from './fields-source.ts';
import { functionSource, type SandboxFactory } from './function-source.ts';
import { attachDocs } from './run-search.ts';
import { SearchIndex, type SearchIndexOptions } from './search-index.ts';
import { clearSnapshot, readMeta } from './snapshot.ts';
import type { SearchQuery, SearchResult } from './types.ts';

export interface SearchIndexesOptions {
  db: Database;
  /** Where indexes are saved; shared with other users of the store under `prefix`. */
  store: KvStore;
  /** Key prefix of all search indexes (default 'search/'); each index adds "<signature>/". */
  prefix?: string;
  /**
   * Creates the sandbox that runs an index function (one per function index, disposed with it):
   * default src/sandbox's QuickJS with its default limits; false allows the fields form only.
   */
  createSandbox?: SandboxFactory | false;
  feeder?: FeederOptions;
  index?: Pick<SearchIndexOptions, 'saveEvery' | 'saveDelayMs' | 'onError'>;
}

interface Entry {
  index: SearchIndex;
  feeder: IndexFeeder;
  /** Calls using the index now: one retired meanwhile (its definition changed) closes after the last. */
  users: number;
  retired: boolean;
  signature: string;
}

export class SearchIndexes {
  private readonly open = new Map<string, Promise<Entry>>();
  /** "ddoc id/index name" -> signature in use, to close an index once its definition changed. */
  private readonly bound = new Map<string, string>();
  private readonly defs = new Map<string, { rev: string; defs: Map<string, SearchDefinition> }>();
  private readonly prefix: string;
  private closed = false;
  /** The indexes queries hold; retired ones close after their last query. */
  private readonly holds = new IndexHolds<Entry>((e) => e.index.close({ save: false }));

  constructor(private readonly options: SearchIndexesOptions) {
    this.prefix = options.prefix ?? 'search/';
  }

  /** The index `indexName` of `_design/<ddocName>` as currently defined, opened if need be. */
  async index(ddocName: string, indexName: string): Promise<Entry> {
    if (this.closed) throw new RefugeError('closed', 'search indexes are closed');
    const id = ddocName.startsWith('_design/') ? ddocName : `_design/${ddocName}`;
    const ddoc = await this.options.db.get(id);
    const def = this.definitions(ddoc).get(indexName);
    if (!def) throw new RefugeError('not_found', `missing search index ${indexName} in ${id}`);
    const key = `${id}/${indexName}`;
    const previous = this.bound.get(key);
    this.bound.set(key, def.signature);
    if (previous !== undefined && previous !== def.signature && ![...this.bound.values()].includes(previous)) {
      // The old definition is gone: stop its index; its stored data waits for cleanup().
      const old = this.open.get(previous);
      this.open.delete(previous);
      await this.retire(old);
    }
    let entry = this.open.get(def.signature);
    if (!entry) {
      entry = this.openIndex(def, ddoc);
      this.open.set(def.signature, entry);
      entry.catch(() => this.open.delete(def.signature));
    }
    return entry;
  }

  /**
   * Queries an index. `update` 'true' (default) catches the index up first, 'false' reads it as it
   * is, 'lazy' reads it as it is and catches up afterwards.
   */
  async query(ddocName: string, indexName: string, query: SearchQuery, options: { update?: UpdateMode } = {}): Promise<SearchResult> {
    const result = await this.using(ddocName, indexName, async ({ index, feeder }) => {
      await feeder.beforeQuery(options.update);
      const found = index.search(query);
      feeder.afterQuery(options.update);
      return found;
    });
    return query.includeDocs ? attachDocs(result, (ids) => this.fetchDocs(ids)) : result;
  }

  /**
   * Runs `fn` with the index as currently defined, holding it open meanwhile: a definition edited
   * during a query retires the old index, which then closes only after the calls using it.
   */
  private using<T>(ddocName: string, indexName: string, fn: (entry: Entry) => Promise<T>): Promise<T> {
    return this.holds.using(() => this.index(ddocName, indexName), fn);
  }

  /** CouchDB's `_search_info/{index}`: how far the index is, in memory and on disk. */
  async info(ddocName: string, indexName: string): Promise<Record<string, unknown>> {
    const id = ddocName.startsWith('_design/') ? ddocName : `_design/${ddocName}`;
    return this.using(ddocName, indexName, async ({ index }) => ({
      name: `${id}/${indexName}`,
      search_index: { doc_count: index.documentCount, pending_seq: await index.indexedSeq(), committed_seq: index.committedSeq },
    }));
  }

  /** Deletes saved indexes that no design document defines any more; returns how many. */
  async cleanup(): Promise<number> {
    const { rows } = await this.options.db.allDocs({ startkey: '_design/', endkey: '_design0', includeDocs: true, offset: false });
    const used = new Set<string>();
    for (const row of rows) {
      if (!row.doc) continue;
      try {
        for (const def of searchDefinitions(row.doc).values()) used.add(def.signature);
      } catch {
        // An invalid design document defines nothing usable.
      }
    }
    const stored = new Set<string>();
    for await (const keys of this.options.store.scanKeys({ gte: this.prefix, lt: this.prefix + '\uffff' })) {
      for (const k of keys) if (k.endsWith('/meta')) stored.add(k.slice(this.prefix.length, -'/meta'.length));
    }
    let removed = 0;
    for (const sig of stored) {
      if (used.has(sig) || this.holds.draining.has(sig)) continue;
      const entry = this.open.get(sig);
      this.open.delete(sig);
      await this.retire(entry);
      await clearSnapshot(this.options.store, `${this.prefix}${sig}/`);
      removed++;
    }
    return removed;
  }

  /** Saves and closes every open index. */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.open.values()];
    this.open.clear();
    for (const e of entries) await e.then((x) => x.index.close(), () => undefined);
  }

  /** Stops an index whose definition is gone (its stored data waits for cleanup): now, or after its last user. */
  private async retire(entry: Promise<Entry> | undefined): Promise<void> {
    await this.holds.retire(await entry?.catch(() => undefined));
  }

  private definitions(ddoc: Doc): Map<string, SearchDefinition> {
    const cached = this.defs.get(ddoc._id!);
    if (cached && cached.rev === ddoc._rev) return cached.defs;
    const defs = searchDefinitions(ddoc);
    this.defs.set(ddoc._id!, { rev: ddoc._rev ?? '', defs });
    return defs;
  }

  private async openIndex(def: SearchDefinition, ddoc: Doc): Promise<Entry> {
    let source;
    if (def.kind === 'fields') source = fieldsSource(def);
    else if (this.options.createSandbox !== false) source = functionSource(def, ddoc, this.options.createSandbox ?? createSandbox);
    else throw new RefugeError('not_implemented', `search index ${def.name} is a function, and no sandbox is configured`);
    const options: SearchIndexOptions = {
      ...this.options.index,
      store: this.options.store,
      prefix: `${this.prefix}${def.signature}/`,
      signature: def.signature,
      source,
      analyzers: def.analyzers,
      // Clouseau's rule for index functions: an unqualified term searches the field "default".
      defaultFields: def.kind === 'fields' ? def.fields.map((f) => f.name) : ['default'],
    };
    const saved = await readMeta(options.store, options.prefix);
    if (saved && saved.seq > (await this.options.db.updateSeq())) {
      // Saved for a database that has since been recreated under the same name: start over.
      await clearSnapshot(options.store, options.prefix);
    }
    const index = await SearchIndex.open(options);
    return { index, feeder: new IndexFeeder(this.options.db, index, this.options.feeder), users: 0, retired: false, signature: def.signature };
  }

  private async fetchDocs(ids: readonly string[]): Promise<Array<Doc | null>> {
    if (ids.length === 0) return [];
    const { rows } = await this.options.db.allDocs({ keys: [...ids], includeDocs: true });
    return rows.map((r) => r.doc ?? null);
  }
}
