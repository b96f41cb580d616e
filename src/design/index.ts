// Design documents: what a database runs of its users' code — validate_doc_update on every write
// path, changes filters, and (through src/views and src/search) the indexes they define.
// `attachDesign` installs the hooks on a Database; everything runs in src/sandbox.
import type { Database } from '../documents/index.ts';
import type { SandboxOptions } from '../sandbox/index.ts';
import type { KvStore } from '../storage/index.ts';
import { SearchIndexes } from '../search/index.ts';
import { RefugeError } from '../errors/index.ts';
import { DesignDocs } from './design-docs.ts';
import { SandboxCache } from './sandboxes.ts';

export { DesignDocs } from './design-docs.ts';
export { designFunctionSources } from './design-shape.ts';
export { SandboxCache, type CompiledFn } from './sandboxes.ts';

export interface AttachDesignOptions {
  sandbox?: Omit<SandboxOptions, 'ddoc'>;
  /** The database's security object (`_security`), handed to validate functions. */
  secObj?: () => Promise<Record<string, unknown>>;
  /** Opens the store that holds this database's indexes (views, search); opened on first use. */
  openIndexStore?: () => Promise<KvStore>;
}

export interface DbDesign {
  readonly docs: DesignDocs;
  readonly sandboxes: SandboxCache;
  /** The store for this database's indexes (one store, a key prefix per index). */
  indexStore(): Promise<KvStore>;
  /** Full-text indexes defined by `indexes` in design documents. */
  search(): Promise<SearchIndexes>;
  /** Drops index data no design document refers to any more (`_view_cleanup`). */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}

export function attachDesign(db: Database, options: AttachDesignOptions = {}): DbDesign {
  const sandboxes = new SandboxCache(options.sandbox);
  const docs = new DesignDocs(db, sandboxes, options.secObj);
  db.setDesignHooks({
    checkWrites: (d, ctx) => docs.checkWrites(d, ctx),
    designWritten: () => docs.invalidate(),
    compileFilter: (req) => docs.compileFilter(req),
  });
  let store: Promise<KvStore> | undefined;
  let search: Promise<SearchIndexes> | undefined;
  const { openIndexStore } = options;
  const indexStore = (): Promise<KvStore> => {
    if (!openIndexStore) return Promise.reject(new RefugeError('not_implemented', 'this database has no index store'));
    store ??= openIndexStore();
    store.catch(() => (store = undefined));
    return store;
  };
  return {
    docs,
    sandboxes,
    indexStore,
    search() {
      search ??= indexStore().then((s) => new SearchIndexes({ db, store: s, prefix: 'search/' }));
      search.catch(() => (search = undefined));
      return search;
    },
    async cleanup() {
      if (search) await (await search).cleanup();
      else if (openIndexStore) await (await this.search()).cleanup();
    },
    async close() {
      db.setDesignHooks({});
      sandboxes.dispose();
      const s0 = search;
      search = undefined;
      if (s0) await (await s0.catch(() => undefined))?.close();
      const s = store;
      store = undefined;
      if (s) await (await s.catch(() => undefined))?.close();
    },
  };
}
