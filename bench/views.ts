// The views suite: the same 100,000 documents in a Refuge LevelDB database and a pouchdb-node one;
// `views.build` = documents per second to build a persisted map view (the first query builds it),
// `views.query` = random `key=` lookups per second on it (each ~5 rows; median of 5 rounds), Refuge
// against PouchDB. Refuge's map runs in the design-document sandbox (QuickJS, src/sandbox).

import { join } from 'node:path';
import { openDatabase } from '../src/index.ts';
import { leveldbEngine } from '../src/storage-node/index.ts';
import { createSandbox } from '../src/sandbox/index.ts';
import { ViewIndexes, type SandboxFactory } from '../src/views/index.ts';
import { loadPouchDB } from './pouchdb.ts';
import { collectGarbage, note, perSecond, timed, type Emit, type Suite } from './report.ts';
import { withTempDir } from './temp-dir.ts';
import { makeDocs, prng, workloadSize } from './workload.ts';

const MAP = 'function (doc) { emit(doc.k, null); }';
const KEYS = 20_000;
const DDOC = { _id: '_design/bench', views: { by_k: { map: MAP } } };

interface Rates {
  build: number;
  query: number;
}

const keyOf = (i: number): string => `k${(i * 7919) % KEYS}`;

function docs(from: number, n: number): Array<Record<string, unknown>> {
  return makeDocs(n, 42, from).map((d, j) => ({ ...d, k: keyOf(from + j) }));
}

function lookups(count: number): string[] {
  const rand = prng(99);
  return Array.from({ length: count }, () => `k${Math.floor(rand() * KEYS)}`);
}

/** Lookups in rounds; the median round's rate, so a burst of load on the machine skews one round only. */
async function lookupRate(keys: readonly string[], lookup: (key: string) => Promise<number>): Promise<{ rate: number; rows: number }> {
  for (const key of keys.slice(0, 200)) await lookup(key); // warm-up
  const rounds = 5;
  const per = Math.ceil(keys.length / rounds);
  const rates: number[] = [];
  let rows = 0;
  for (let r = 0; r < rounds; r++) {
    const part = keys.slice(r * per, (r + 1) * per);
    const t = await timed(async () => {
      for (const key of part) rows += await lookup(key);
    });
    rates.push(perSecond(part.length, t.ms));
  }
  rates.sort((a, b) => a - b);
  return { rate: rates[rounds >> 1]!, rows };
}

async function refugeSide(dir: string, n: number, batch: number, keys: readonly string[]): Promise<Rates> {
  const db = await openDatabase('views', { engine: 'leveldb', dataDir: dir, durability: 'fast' });
  const store = await leveldbEngine().open({ location: join(dir, 'view-indexes') });
  const sandbox: SandboxFactory = (ddoc) => createSandbox({ ddoc });
  const views = new ViewIndexes({ db, store, sandbox });
  try {
    await db.put(DDOC);
    for (let i = 0; i < n; i += batch) await db.bulkDocs(docs(i, Math.min(batch, n - i)));
    await db.info();
    collectGarbage();
    const build = await timed(() => views.query(DDOC._id, 'by_k', { limit: 0 }));
    if (build.value.rows.length !== 0 || (build.value as { total_rows: number }).total_rows !== n) throw new Error('refuge view incomplete');
    collectGarbage();
    const q = await lookupRate(keys, async (key) => (await views.query(DDOC._id, 'by_k', { key })).rows.length);
    note(`refuge: build ${Math.round(build.ms)} ms, lookups ${Math.round(q.rate)}/s (median of 5 rounds, ${q.rows} rows)`);
    return { build: perSecond(n, build.ms), query: q.rate };
  } finally {
    await views.close();
    await store.close();
    await db.close();
  }
}

interface PouchViews {
  put(doc: object): Promise<unknown>;
  bulkDocs(docs: object[]): Promise<unknown>;
  query(view: string, options: object): Promise<{ total_rows: number; rows: unknown[] }>;
  destroy(): Promise<void>;
}

async function pouchSide(dir: string, n: number, batch: number, keys: readonly string[]): Promise<Rates> {
  const PouchDB = loadPouchDB();
  const db = new PouchDB(join(dir, 'views')) as unknown as PouchViews;
  try {
    await db.put(DDOC);
    for (let i = 0; i < n; i += batch) await db.bulkDocs(docs(i, Math.min(batch, n - i)));
    collectGarbage();
    const build = await timed(() => db.query('bench/by_k', { limit: 0 }));
    if (build.value.total_rows !== n) throw new Error(`pouchdb view has ${build.value.total_rows} rows`);
    collectGarbage();
    const q = await lookupRate(keys, async (key) => (await db.query('bench/by_k', { key })).rows.length);
    note(`pouchdb: build ${Math.round(build.ms)} ms, lookups ${Math.round(q.rate)}/s (median of 5 rounds, ${q.rows} rows)`);
    return { build: perSecond(n, build.ms), query: q.rate };
  } finally {
    await db.destroy();
  }
}

export const viewsSuite: Suite = {
  figures: ['views.build', 'views.query'],

  async run(_wants, emit: Emit) {
    const { docs: n, ops, batch } = workloadSize();
    const keys = lookups(Math.min(ops, 5_000));
    note(`views workload: ${n} docs, map ${MAP}, ${KEYS} distinct keys, ${keys.length} random key= lookups`);
    const refuge = await withTempDir('views-refuge', (dir) => refugeSide(dir, n, batch, keys));
    collectGarbage();
    const pouch = await withTempDir('views-pouch', (dir) => pouchSide(dir, n, batch, keys));
    emit({ bench: 'views.build', unit: 'docs/s', refuge: refuge.build, anchor: 'pouchdb-node', anchorValue: pouch.build });
    emit({ bench: 'views.query', unit: 'queries/s', refuge: refuge.query, anchor: 'pouchdb-node', anchorValue: pouch.query });
  },
};
