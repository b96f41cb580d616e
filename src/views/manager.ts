// The views of one database: opens and caches a view group per design-document signature (design
// documents with identical views share one index), keeps each current through an IndexFeeder as
// the query's update mode asks, and answers queries, `_info` and cleanup. Index data lives in the
// given store under `<root><signature>!`, so it survives restarts and is reused without a rebuild.

import type { Database, Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { IndexFeeder, IndexHolds, type UpdateMode } from '../indexers/index.ts';
import { createSandbox } from '../sandbox/index.ts';
import type { KvStore } from '../storage/index.ts';
import { viewCleanup } from './cleanup.ts';
import { dbFetcher } from './db-fetcher.ts';
import { parseDesignDoc, type DesignDef } from './design-doc.ts';
import type { FetchDocs } from './map-query.ts';
import type { ViewQueryOptions } from './query-options.ts';
import type { SandboxFactory, ViewSandbox } from './sandbox-face.ts';
import { ViewGroup, type ViewListing, type ViewResult } from './view-group.ts';

export const DEFAULT_VIEW_ROOT = 'v!';

export interface ViewIndexesOptions {
  db: Database;
  /** Where index data lives (the database's own store or a separate one). */
  store: KvStore;
  /**
   * Makes the sandbox of a JavaScript design document (default: src/sandbox's QuickJS sandbox with
   * its default limits); Mango (`language: "query"`) groups need none.
   */
  sandbox?: SandboxFactory;
  /** include_docs loader; defaults to reading `db`. */
  fetchDocs?: FetchDocs;
  /** Key prefix of all view data in `store` (default 'v!'). */
  root?: string;
  /** Changes per apply (default 1000) and documents per sandbox map call (default 500). */
  batchSize?: number;
  mapBatchSize?: number;
  /** Failures of background ('lazy') updates. */
  onError?: (err: unknown) => void;
}

interface OpenGroup {
  group: ViewGroup;
  feeder: IndexFeeder;
  sandbox?: ViewSandbox;
  updating: number;
  /** Calls using the group now: one retired meanwhile (its design document changed) closes after the last. */
  users: number;
  retired: boolean;
  signature: string;
  closed?: boolean;
}

interface DdocEntry {
  /** Database sequence at which the design document was last read. */
  seq: number;
  def: DesignDef;
}

export interface ViewIndexInfo {
  name: string;
  view_index: {
    signature: string;
    language: string;
    update_seq: number;
    purge_seq: number;
    updater_running: boolean;
    compact_running: boolean;
    waiting_clients: number;
    waiting_commit: boolean;
    updates_pending: { minimum: number; preferred: number; total: number };
    sizes: { file: number; active: number; external: number };
  };
}

export class ViewIndexes {
  private readonly ddocs = new Map<string, DdocEntry>();
  private readonly groups = new Map<string, Promise<OpenGroup>>();
  /** The groups queries hold; retired ones close after their last query. */
  private readonly holds = new IndexHolds<OpenGroup>(closeGroup);
  private readonly root: string;
  private readonly fetchDocs: FetchDocs;
  private closed = false;

  constructor(private readonly options: ViewIndexesOptions) {
    this.root = options.root ?? DEFAULT_VIEW_ROOT;
    this.fetchDocs = options.fetchDocs ?? dbFetcher(options.db);
  }

  /** CouchDB's `GET /db/_design/d/_view/v`: `mode` (or options.update) says how a lagging index is treated. */
  async query(ddocId: string, viewName: string, options: ViewQueryOptions = {}, mode?: UpdateMode): Promise<ViewResult> {
    const how = mode ?? options.update ?? 'true';
    return this.using(ddocId, async (open) => {
      if (how === 'true') await this.catchUp(open);
      const result = await open.group.query(viewName, options, this.fetchDocs);
      if (how === 'lazy') this.catchUp(open).catch((err) => this.options.onError?.(err));
      return result;
    });
  }

  /**
   * query() as a listing: whole, or rows read as they are asked for (the HTTP answer streams them).
   * The group of a streamed one stays held, so it does not close under the reader, until it is closed.
   */
  async listing(ddocId: string, viewName: string, options: ViewQueryOptions = {}, mode?: UpdateMode): Promise<ViewListing> {
    const how = mode ?? options.update ?? 'true';
    let opened: (listing: ViewListing) => void = () => undefined;
    const given = new Promise<ViewListing>((resolve) => (opened = resolve));
    const held = this.using(ddocId, async (open) => {
      if (how === 'true') await this.catchUp(open);
      const listing = await open.group.listing(viewName, options, this.fetchDocs);
      if (how === 'lazy') this.catchUp(open).catch((err) => this.options.onError?.(err));
      if ('whole' in listing) return opened(listing);
      let release: () => void = () => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      let closing: Promise<void> | undefined;
      opened({ ...listing, close: () => (closing ??= listing.close().finally(release)) });
      await released;
    });
    // Failing before the listing is given, the hold's own failure is the answer.
    return Promise.race([given, held.then(() => given)]);
  }

  /** Several queries on one view (`queries` in a POST body): CouchDB answers `{results: [...]}`. */
  async queryMany(ddocId: string, viewName: string, queries: readonly ViewQueryOptions[], mode?: UpdateMode): Promise<{ results: ViewResult[] }> {
    const results: ViewResult[] = [];
    for (const q of queries) results.push(await this.query(ddocId, viewName, q, mode ?? q.update));
    return { results };
  }

  /**
   * Runs `fn` with the group of a design document, current as of now (for callers that scan rows
   * themselves): the group stays open until `fn` ends, even if the design document changes meanwhile.
   */
  withGroup<T>(ddocId: string, mode: UpdateMode, fn: (group: ViewGroup) => Promise<T>): Promise<T> {
    return this.using(ddocId, async (open) => {
      if (mode === 'true') await this.catchUp(open);
      else if (mode === 'lazy') this.catchUp(open).catch((err) => this.options.onError?.(err));
      return fn(open.group);
    });
  }

  /**
   * withGroup for a reader that outlives one call (a streamed `_find` over a json index): the group
   * stays open, whatever happens to its design document, until `release` is called.
   */
  async heldGroup(ddocId: string, mode: UpdateMode): Promise<{ group: ViewGroup; release: () => void }> {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    let given: (group: ViewGroup) => void = () => undefined;
    const got = new Promise<ViewGroup>((resolve) => (given = resolve));
    const held = this.withGroup(ddocId, mode, async (group) => {
      given(group);
      await released;
    });
    // Failing before the group is given, the hold's own failure is the answer.
    const group = await Promise.race([got, held.then(() => got)]);
    return { group, release };
  }

  /**
   * The group of a design document, current as of now, as an Indexer (tests and tools). A caller that
   * reads rows from it while the design document may change uses withGroup.
   */
  async group(ddocId: string, mode: UpdateMode = 'true'): Promise<ViewGroup> {
    const open = await this.open(ddocId);
    if (mode === 'true') await this.catchUp(open);
    else if (mode === 'lazy') this.catchUp(open).catch((err) => this.options.onError?.(err));
    return open.group;
  }

  /** CouchDB's `GET /db/_design/d/_info`. */
  async info(ddocId: string): Promise<ViewIndexInfo> {
    return this.using(ddocId, (open) => this.infoOf(ddocId, open));
  }

  private async infoOf(ddocId: string, open: OpenGroup): Promise<ViewIndexInfo> {
    const g = open.group;
    const dbSeq = this.options.db.core.state.seq;
    const size = (await g.diskSize()) ?? 0;
    const pending = Math.max(0, dbSeq - g.seq);
    return {
      name: ddocId.slice('_design/'.length),
      view_index: {
        signature: g.signature,
        language: g.def.language,
        update_seq: g.seq,
        purge_seq: 0,
        updater_running: open.updating > 0,
        compact_running: false,
        waiting_clients: 0,
        waiting_commit: false,
        updates_pending: { minimum: pending, preferred: pending, total: pending },
        sizes: { file: size, active: size, external: size },
      },
    };
  }

  /** CouchDB's `_view_cleanup`: deletes index data no current design document uses. */
  async cleanup(): Promise<{ removed: string[] }> {
    const live = new Set<string>();
    const res = await this.options.db.allDocs({ startkey: '_design/', endkey: '_design0', includeDocs: true, offset: false });
    for (const row of res.rows) {
      if (!row.doc) continue;
      try {
        live.add(parseDesignDoc(row.doc).signature);
      } catch {
        // an invalid design document has no index
      }
    }
    for (const sig of [...this.groups.keys()]) if (!live.has(sig)) await this.retireGroup(sig);
    // A query still reading a retired group keeps its rows; the next cleanup removes them.
    const kept = new Set([...live, ...this.holds.draining.keys()]);
    for (const [id, e] of this.ddocs) if (!live.has(e.def.signature)) this.ddocs.delete(id);
    return { removed: await viewCleanup(this.options.store, kept, this.root) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.groups.values()];
    this.groups.clear();
    for (const p of all) await closeGroup(await p.catch(() => undefined));
  }

  private async catchUp(open: OpenGroup): Promise<void> {
    // Equal only: an index ahead of its database goes to the feeder, which rebuilds it.
    if (open.group.seq === this.options.db.core.state.seq) return;
    open.updating++;
    try {
      await open.feeder.catchUp();
    } finally {
      open.updating--;
    }
  }

  /**
   * Runs `fn` with the open group of `ddocId`, holding it open meanwhile: a design document edited
   * during a query retires its old group, which then closes only after the calls using it.
   */
  private using<T>(ddocId: string, fn: (open: OpenGroup) => Promise<T>): Promise<T> {
    return this.holds.using(() => this.open(ddocId), fn);
  }

  private async open(ddocId: string): Promise<OpenGroup> {
    if (this.closed) throw new RefugeError('closed', 'view indexes are closed');
    const def = await this.designDef(ddocId);
    let p = this.groups.get(def.signature);
    if (!p) {
      p = this.openGroup(def);
      this.groups.set(def.signature, p);
      p.catch(() => this.groups.delete(def.signature));
    }
    return p;
  }

  private async designDef(ddocId: string): Promise<DesignDef> {
    if (typeof ddocId !== 'string' || !ddocId.startsWith('_design/')) throw new RefugeError('bad_request', 'design document ids start with _design/');
    const seq = this.options.db.core.state.seq;
    const cached = this.ddocs.get(ddocId);
    if (cached && cached.seq === seq) return cached.def;
    const doc = await this.options.db.get(ddocId);
    const def = parseDesignDoc(doc);
    this.ddocs.set(ddocId, { seq, def });
    if (cached && cached.def.signature !== def.signature) await this.retire(cached.def.signature);
    return def;
  }

  /** Closes a group no cached design document uses any more (its data stays until cleanup). */
  private async retire(signature: string): Promise<void> {
    for (const e of this.ddocs.values()) if (e.def.signature === signature) return;
    await this.retireGroup(signature);
  }

  /** Forgets a group; it closes now, or after the last call still using it. */
  private async retireGroup(signature: string): Promise<void> {
    const p = this.groups.get(signature);
    if (!p) return;
    this.groups.delete(signature);
    await this.holds.retire(await p.catch(() => undefined));
  }

  private async openGroup(def: DesignDef): Promise<OpenGroup> {
    const o = this.options;
    const ddoc = await o.db.get(def.id).catch(() => ({ _id: def.id }) as Doc);
    const sandbox = def.language === 'javascript' ? await this.makeSandbox(ddoc) : undefined;
    try {
      const group = await ViewGroup.open({
        store: o.store,
        prefix: `${this.root}${def.signature}!`,
        ddoc: def,
        ...(sandbox ? { sandbox } : {}),
        ...(o.mapBatchSize !== undefined ? { mapBatchSize: o.mapBatchSize } : {}),
      });
      const feeder = new IndexFeeder(o.db, group, { batchSize: o.batchSize ?? 1000, ...(o.onError ? { onError: o.onError } : {}) });
      return { group, feeder, ...(sandbox ? { sandbox } : {}), updating: 0, users: 0, retired: false, signature: def.signature };
    } catch (err) {
      sandbox?.dispose();
      throw err;
    }
  }

  private async makeSandbox(ddoc: Doc): Promise<ViewSandbox> {
    return this.options.sandbox ? this.options.sandbox(ddoc) : createSandbox({ ddoc });
  }
}

async function closeGroup(open: OpenGroup | undefined): Promise<void> {
  if (!open || open.closed) return;
  open.closed = true;
  await open.group.close();
  open.sandbox?.dispose();
}
