// The search suite: 100,000 short texts indexed from a LevelDB database through the Indexer path
// (feeder, analysis, final snapshot) and queried, against raw MiniSearch on the same texts in memory;
// FlexSearch's figures go to stderr, as the measurement behind the library choice (src/search/library.ts).
import { join } from 'node:path';
import MiniSearch from 'minisearch';
import { openDatabase } from '../src/index.ts';
import { IndexFeeder } from '../src/indexers/index.ts';
import { fieldsSource, SearchIndex, searchDefinitions, type FieldsDefinition } from '../src/search/index.ts';
import { leveldbEngine } from '../src/storage-node/index.ts';
import { collectGarbage, note, perSecond, timed, type Emit, type Suite } from './report.ts';
import { withTempDir } from './temp-dir.ts';
import { docId, prng } from './workload.ts';

const DOCS = Number(process.env.REFUGE_BENCH_SEARCH_DOCS ?? 100_000);
const QUERIES = 2_000;
const BATCH = 1_000;

/** 5,000 made-up words, and texts of 6-13 of them drawn Zipf-like (a few very common words). */
function workload(): { texts: string[]; queries: Array<{ q: string; words: string[]; prefix: boolean }> } {
  const r0 = prng(1);
  const syllables = ['ka', 'lo', 'mi', 'ne', 'su', 'ta', 'ri', 'po', 've', 'da', 'gu', 'ze', 'ha', 'xi', 'bo', 'fa'];
  const seen = new Set<string>();
  while (seen.size < 5_000) {
    let w = '';
    for (let i = 2 + Math.floor(r0() * 3); i > 0; i--) w += syllables[Math.floor(r0() * syllables.length)];
    seen.add(w);
  }
  const vocab = [...seen];
  const r = prng(2);
  const zipf = (): string => vocab[Math.min(vocab.length - 1, Math.floor(Math.pow(r(), 2.5) * vocab.length))]!;
  const texts = Array.from({ length: DOCS }, () => Array.from({ length: 6 + Math.floor(r() * 8) }, zipf).join(' '));
  const rq = prng(3);
  const queries = Array.from({ length: QUERIES }, (_, i) => {
    const common = zipf();
    const rare = vocab[Math.floor(rq() * 1_000)]!;
    if (i % 3 === 0) return { q: common, words: [common], prefix: false };
    if (i % 3 === 1) return { q: `${common} ${rare}`, words: [common, rare], prefix: false };
    return { q: `${rare.slice(0, 4)}*`, words: [rare.slice(0, 4)], prefix: true };
  });
  return { texts, queries };
}

interface Latency {
  rate: number;
  p50: number;
  p99: number;
  hits: number;
}

function measureQueries<Q>(queries: readonly Q[], run: (q: Q) => number): Latency {
  for (const q of queries.slice(0, 100)) run(q); // warm-up
  const times: number[] = [];
  let hits = 0;
  for (const q of queries) {
    const start = performance.now();
    hits += run(q);
    times.push(performance.now() - start);
  }
  const total = times.reduce((a, b) => a + b, 0);
  times.sort((a, b) => a - b);
  return { rate: perSecond(queries.length, total), p50: times[times.length >> 1]!, p99: times[Math.floor(times.length * 0.99)]!, hits };
}

const ms2 = (x: number): string => x.toFixed(x < 1 ? 3 : 1);

async function refugeSide(dir: string, texts: readonly string[], queries: ReturnType<typeof workload>['queries']) {
  const db = await openDatabase('search', { engine: 'leveldb', dataDir: dir, durability: 'fast' });
  const store = await leveldbEngine().open({ location: join(dir, 'indexes') });
  try {
    for (let i = 0; i < texts.length; i += BATCH) {
      await db.bulkDocs(texts.slice(i, i + BATCH).map((text, k) => ({ _id: docId(i + k), text })));
    }
    await db.info();
    collectGarbage();
    const def = searchDefinitions({ _id: '_design/b', indexes: { t: { fields: ['text'] } } }).get('t') as FieldsDefinition;
    const options = {
      store,
      prefix: `search/${def.signature}/`,
      signature: def.signature,
      source: fieldsSource(def),
      analyzers: def.analyzers,
      defaultFields: ['text'],
    };
    const index = await SearchIndex.open(options);
    const feeder = new IndexFeeder(db, index, { batchSize: BATCH });
    const build = await timed(() => feeder.catchUp());
    const save = await timed(() => index.flush());
    note(`refuge: catch-up ${Math.round(build.ms)} ms (${index.stats.saves - 1} saves during it), final save ${Math.round(save.ms)} ms`);
    if (index.documentCount !== texts.length) throw new Error(`indexed ${index.documentCount} of ${texts.length}`);
    collectGarbage();
    const latency = measureQueries(queries, (q) => index.search({ q: q.q, limit: 25 }).total_rows);
    await index.close();
    const reopen = await timed(() => SearchIndex.open({ ...options, source: fieldsSource(def) }));
    note(`refuge: reopening the saved index took ${Math.round(reopen.ms)} ms (loaded seq ${reopen.value.stats.loadedSeq})`);
    await reopen.value.close({ save: false });
    return { indexMs: build.ms + save.ms, latency };
  } finally {
    await store.close();
    await db.close();
  }
}

function miniSide(texts: readonly string[], queries: ReturnType<typeof workload>['queries']) {
  const mini = new MiniSearch<{ id: string; text: string }>({ fields: ['text'] });
  const start = performance.now();
  texts.forEach((text, i) => mini.add({ id: docId(i), text }));
  const indexMs = performance.now() - start;
  const latency = measureQueries(queries, (q) => {
    const res = mini.search(q.words.join(' '), { combineWith: 'AND', prefix: q.prefix });
    res.slice(0, 25);
    return res.length;
  });
  const json = performance.now();
  const size = JSON.stringify(mini).length;
  note(`minisearch: index ${Math.round(indexMs)} ms, serialize ${Math.round(performance.now() - json)} ms (${(size / 1e6).toFixed(1)} MB)`);
  return { indexMs, latency };
}

/** FlexSearch on the same work (stderr only): why src/search does not use it. */
async function flexNotes(texts: readonly string[], queries: ReturnType<typeof workload>['queries']): Promise<void> {
  // Loaded here only: it is a comparison, not something Refuge runs.
  const { default: FlexSearch } = await import('flexsearch');
  for (const tokenize of ['strict', 'forward'] as const) {
    collectGarbage();
    const fx = new FlexSearch.Index({ tokenize, fastupdate: true });
    const start = performance.now();
    texts.forEach((text, i) => fx.add(i, text));
    const indexMs = performance.now() - start;
    const n = Math.min(20_000, texts.length);
    const upd = performance.now();
    for (let i = 0; i < n; i++) fx.update(i, texts[texts.length - 1 - i]!);
    const updMs = performance.now() - upd;
    const l = measureQueries(queries, (q) => (fx.search(q.words.join(' '), { limit: texts.length }) as unknown[]).length);
    note(
      `flexsearch(${tokenize}, fastupdate): index ${Math.round(indexMs)} ms, update ${n} ${Math.round(updMs)} ms, ` +
        `query ${Math.round(l.rate)} q/s p50 ${ms2(l.p50)} ms p99 ${ms2(l.p99)} ms (no scores; prefix only with 'forward')`,
    );
  }
}

export const searchSuite: Suite = {
  figures: ['search.index', 'search.query'],

  async run(wants, emit: Emit) {
    const { texts, queries } = workload();
    note(`search workload: ${texts.length} texts of 6-13 words (Zipf over 5,000 words), ${queries.length} queries (term, two terms, prefix)`);
    const refuge = await withTempDir('search', (dir) => refugeSide(dir, texts, queries));
    collectGarbage();
    const mini = miniSide(texts, queries);
    if (refuge.latency.hits !== mini.latency.hits) throw new Error(`result counts differ: refuge ${refuge.latency.hits}, minisearch ${mini.latency.hits}`);
    emit({ bench: 'search.index', unit: 'docs/s', refuge: perSecond(texts.length, refuge.indexMs), anchor: 'minisearch in memory', anchorValue: perSecond(texts.length, mini.indexMs) });
    const r = refuge.latency;
    const a = mini.latency;
    emit({
      bench: 'search.query',
      unit: `queries/s (p50 ${ms2(r.p50)} ms, p99 ${ms2(r.p99)} ms; anchor p50 ${ms2(a.p50)} ms, p99 ${ms2(a.p99)} ms)`,
      refuge: r.rate,
      anchor: 'minisearch search',
      anchorValue: a.rate,
    });
    if (wants('search.') && process.env.REFUGE_BENCH_SEARCH_FLEX !== '0') await flexNotes(texts, queries);
  },
};
