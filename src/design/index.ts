// Design documents: what a database runs of its users' code — validate_doc_update on every write
// path, changes filters, and the indexes they define (views in src/views, full-text in
// src/search). `attachDesign` installs the hooks on a Database; user code runs in src/sandbox.
import { collectFind, type Database, type Doc, type FindListing, type FindResult } from '../documents/index.ts';
import { chooseJsonIndex, explainJsonIndex, jsonIndexListing, type MangoFindRequest } from './mango-find.ts';
import { RefugeError } from '../errors/index.ts';
import { createSandbox, type SandboxOptions } from '../sandbox/index.ts';
import { SearchIndexes } from '../search/index.ts';
import type { KvStore } from '../storage/index.ts';
import { ViewIndexes } from '../views/index.ts';
import { DesignDocs, type BuiltinValidator } from './design-docs.ts';
import { SandboxCache } from './sandboxes.ts';
import { runUpdate, type UpdateCall, type UpdateOutcome } from './update-functions.ts';

export { DesignDocs, type BuiltinValidator } from './design-docs.ts';
export { designFunctionSources } from './design-shape.ts';
export { wanted as parseUseIndex, type MangoFindRequest } from './mango-find.ts';
export { SandboxCache, type CompiledFn } from './sandboxes.ts';
export type { UpdateCall, UpdateOutcome, UpdateResponse } from './update-functions.ts';

export interface AttachDesignOptions {
  sandbox?: Omit<SandboxOptions, 'ddoc'>;
  /** The database's security object (`_security`), handed to validate functions. */
  secObj?: () => Promise<Record<string, unknown>>;
  /** Opens the store that holds this database's indexes (views, search); opened on first use. */
  openIndexStore?: () => Promise<KvStore>;
  /** Told about failures nobody waits for (background index updates). */
  onError?: (err: unknown) => void;
  /** The database's own validation, before its design documents' (`_users`'s rules). */
  validate?: BuiltinValidator;
}

export interface DbDesign {
  readonly docs: DesignDocs;
  readonly sandboxes: SandboxCache;
  /** The store for this database's indexes (one store, a key prefix per index). */
  indexStore(): Promise<KvStore>;
  /** Map/reduce views and Mango json indexes defined by design documents. */
  views(): Promise<ViewIndexes>;
  /** Full-text indexes defined by `indexes` in design documents. */
  search(): Promise<SearchIndexes>;
  /** Drops index data no design document refers to any more (`_view_cleanup`). */
  cleanup(): Promise<void>;
  /** Mango `_find`: a json index when `useIndex` names one or one fits, else the path index. */
  find(req: MangoFindRequest): Promise<FindResult>;
  /** find read as it is given out (the HTTP `_find` streams it); the caller closes it. */
  findListing(req: MangoFindRequest): Promise<FindListing>;
  /** `_explain`: which index `find` would use and how. */
  explain(req: MangoFindRequest): Promise<unknown>;
  /** Runs update function `ddoc/name` (`_update`) and saves the document it returns. */
  update(call: UpdateCall): Promise<UpdateOutcome>;
  close(): Promise<void>;
}

const attached = new WeakMap<Database, DbDesign>();

/** The design layer attached to `db` (by `attachDesign`, which `openDatabase` and nodes call). */
export function designOf(db: Database): DbDesign {
  const d = attached.get(db);
  if (!d) throw new RefugeError('not_implemented', `database ${db.name} runs no design documents (open it with design enabled)`);
  return d;
}

export function attachDesign(db: Database, options: AttachDesignOptions = {}): DbDesign {
  const sandboxes = new SandboxCache(options.sandbox);
  const docs = new DesignDocs(db, sandboxes, options.secObj, options.validate);
  const { openIndexStore } = options;
  let store: Promise<KvStore> | undefined;
  let views: Promise<ViewIndexes> | undefined;
  let search: Promise<SearchIndexes> | undefined;
  let closing: Promise<void> | undefined;
  const check = () => {
    if (closing) throw new RefugeError('closed', `database ${db.name} is closed`);
  };
  const indexStore = (): Promise<KvStore> => {
    check();
    if (!openIndexStore) return Promise.reject(new RefugeError('not_implemented', 'this database has no index store'));
    store ??= openIndexStore();
    store.catch(() => (store = undefined));
    return store;
  };
  // A view group owns its sandbox (it disposes it when it closes), and one group serves every design
  // document with the same views: a sandbox from the per-revision cache would be disposed under it
  // when the document that opened it changed or went away.
  const sandboxFor = (ddoc: Doc) => createSandbox({ ...options.sandbox, ddoc });
  const onError = options.onError;
  // A query for a partition may use partitioned json indexes only (mango_idx's
  // filter_partition_indexes), and none is partitioned here: it plans over _all_docs alone.
  const jsonIndexDocs = async (req: MangoFindRequest) => (req.partition ? [] : await docs.all());
  const design: DbDesign = {
    docs,
    sandboxes,
    indexStore,
    views() {
      check();
      views ??= indexStore().then((s) => new ViewIndexes({ db, store: s, sandbox: sandboxFor, ...(onError ? { onError } : {}) }));
      views.catch(() => (views = undefined));
      return views;
    },
    search() {
      check();
      // Index functions run under the node's limits (time, memory), as view functions do.
      search ??= indexStore().then(
        (s) =>
          new SearchIndexes({
            db,
            store: s,
            prefix: 'search/',
            createSandbox: ({ ddoc }) => createSandbox({ ...options.sandbox, ...(ddoc && { ddoc: ddoc as Doc }) }),
            ...(onError ? { index: { onError } } : {}),
          }),
      );
      search.catch(() => (search = undefined));
      return search;
    },
    async find(req) {
      return collectFind(await design.findListing(req));
    },
    async findListing(req) {
      const { useIndex: _u, ...plain } = req;
      const { choice, warning } = chooseJsonIndex(await jsonIndexDocs(req), req);
      if (warning && req.allowFallback === false) throw new RefugeError('no_usable_index', `${warning} allow_fallback is false.`);
      // No database is partitioned here: CouchDB plans the query, then refuses the partition when
      // it reads the shards (fabric_view:get_shards), with this reason.
      if (req.partition) throw new RefugeError('bad_request', 'partition specified on non-partitioned db');
      const listing = choice ? await jsonIndexListing(db, await design.views(), choice, req) : await db.findListing(plain);
      if (!warning) return listing;
      // CouchDB gives every warning that applies, one a line: the index named and not used first,
      // then the full scan's (mango_cursor:maybe_add_warning).
      return {
        ...listing,
        end: () => {
          const end = listing.end();
          return { ...end, warning: end.warning ? `${warning}\n${end.warning}` : warning };
        },
      };
    },
    async explain(req) {
      const { choice, warning } = chooseJsonIndex(await jsonIndexDocs(req), req);
      if (warning && req.allowFallback === false) throw new RefugeError('no_usable_index', `${warning} allow_fallback is false.`);
      return choice ? explainJsonIndex(db.name, choice, req) : db.explain(req);
    },
    update(call) {
      check();
      return runUpdate(db, docs, call);
    },
    async cleanup() {
      await (await design.views()).cleanup();
      await (await design.search()).cleanup();
    },
    close() {
      closing ??= (async () => {
        db.setDesignHooks({});
        const [v, s, st] = [views, search, store];
        views = search = store = undefined;
        if (v) await (await v.catch(() => undefined))?.close();
        if (s) await (await s.catch(() => undefined))?.close();
        sandboxes.dispose();
        if (st) await (await st.catch(() => undefined))?.close();
      })();
      return closing;
    },
  };
  db.setDesignHooks({
    checkWrites: (d, ctx) => docs.checkWrites(d, ctx),
    passesUnchecked: (d) => docs.passesUnchecked(d),
    designWritten: () => docs.invalidate(),
    compileFilter: (req) => docs.compileFilter(req),
    close: () => design.close(),
  });
  attached.set(db, design);
  return design;
}
