// The docs suite: Refuge (LevelDB, durability 'fast', path index on) against pouchdb-node 9 on the
// same 100k-doc workload, plus two raw classic-level ceilings (one key per doc; Refuge's own keys)
// and Refuge's peak RSS. Sides alternate over several rounds and each figure is the median, so a
// machine that drifts during the run moves both sides alike.

import { openPouch, openRefuge, type DocStore } from './doc-store.ts';
import { layoutCeiling } from './layout-ceiling.ts';
import { leveldbCeiling } from './leveldb-ceiling.ts';
import { collectGarbage, median, note, perSecond, timed, type Emit, type Suite } from './report.ts';
import { RssSampler } from './rss-sampler.ts';
import { withTempDir } from './temp-dir.ts';
import { docId, envInt, makeDoc, makeDocs, randomIndices, workloadSize } from './workload.ts';

const PHASES = ['bulk_insert', 'get_random', 'all_docs', 'changes', 'update_single'] as const;
type Phase = (typeof PHASES)[number];
type Rates = Record<Phase, number>;

const RSS_TARGET_MB = 300;

function expectCount(label: string, what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${label} ${what}: expected ${want} rows, got ${got}`);
}

/** Runs every timed phase against one store, in a fresh directory removed afterwards. */
async function runSide(label: string, open: (dir: string) => Promise<DocStore>, size = workloadSize()): Promise<Rates> {
  const { docs: n, ops, batch } = size;
  const getIdx = randomIndices(ops, n, 7);
  const updIdx = randomIndices(ops, n, 11);
  collectGarbage();
  return withTempDir(label, async (dir) => {
    const store = await open(dir);
    try {
      const rates = {} as Rates;
      // Only the revisions the update phase needs are kept, and documents are made per batch
      // (outside the timed sections' memory): the harness holds no copy of the workload.
      const toUpdate = new Set(updIdx.map(docId));
      const revs = new Map<string, string>();
      let insertMs = 0;
      // CPU of every thread (storage's own included) per document: on a machine of few cores, what
      // bounds the insert as much as the wall time does.
      const insertCpu = process.cpuUsage();
      for (let i = 0; i < n; i += batch) {
        const chunk = makeDocs(Math.min(batch, n - i), 42, i);
        const step = await timed(() => store.bulkInsert(chunk));
        insertMs += step.ms;
        const got = step.value;
        for (let j = 0; j < chunk.length; j++) if (toUpdate.has(chunk[j]!._id)) revs.set(chunk[j]!._id, got[j]!);
      }
      // The insert is only done once every write is in storage.
      insertMs += (await timed(() => store.settled())).ms;
      const cpu = process.cpuUsage(insertCpu);
      const insertCpuUs = (cpu.user + cpu.system) / n;
      const insert = { ms: insertMs };
      rates.bulk_insert = perSecond(n, insert.ms);
      collectGarbage();

      const gets = await timed(async () => {
        for (const i of getIdx) await store.get(docId(i));
      });
      rates.get_random = perSecond(ops, gets.ms);
      collectGarbage();

      const all = await timed(() => store.allDocs());
      expectCount(label, 'allDocs', all.value, n);
      rates.all_docs = perSecond(n, all.ms);
      collectGarbage();

      const changes = await timed(() => store.changes());
      expectCount(label, 'changes', changes.value, n);
      rates.changes = perSecond(n, changes.ms);
      collectGarbage();

      // The edited documents are made before the clock starts, as the insert's batches are: making
      // one (its text drawn word by word) took 2.7-3 µs, timed as the store's own (a Refuge update
      // takes about 45). Only the rev, known once the previous update of the same id is done, is
      // set in the loop.
      const edited = updIdx.map((i, k) => {
        const doc = makeDoc(i);
        return { ...doc, _rev: '', age: (doc.age + k) % 100, active: k % 2 === 0 };
      });
      // As for the insert: every thread's CPU per update (LevelDB's compaction takes a core of its own).
      const updateCpu = process.cpuUsage();
      const updates = await timed(async () => {
        for (const doc of edited) {
          doc._rev = revs.get(doc._id)!;
          revs.set(doc._id, await store.put(doc));
        }
        // As for the insert: done once the writes are in storage, not when they are acknowledged.
        await store.settled();
      });
      const updCpu = process.cpuUsage(updateCpu);
      rates.update_single = perSecond(ops, updates.ms);
      note(
        `${label}: ${PHASES.map((p) => `${p}=${Math.round(rates[p])}`).join(' ')}; ` +
          `bulk_insert CPU ${insertCpuUs.toFixed(1)} µs/doc (all threads), wall ${((insertMs * 1000) / n).toFixed(1)}; ` +
          `update_single CPU ${((updCpu.user + updCpu.system) / ops).toFixed(1)} µs/update (all threads), wall ${((updates.ms * 1000) / ops).toFixed(1)}`,
      );
      return rates;
    } finally {
      await store.destroy();
    }
  });
}

/**
 * An untimed round on a fifth of the workload, so that no side is timed while its code is still being
 * compiled, as the HTTP figures are timed warm (a fresh Refuge server filled 54k docs/s cold, 66k
 * warm). Here it moved the figures little: the docs rounds are long enough to amortize the start.
 */
async function warmUp(label: string, open: (dir: string) => Promise<DocStore>): Promise<void> {
  const size = workloadSize();
  await runSide(`${label}-warmup`, open, { docs: Math.ceil(size.docs / 5), ops: Math.ceil(size.ops / 5), batch: size.batch });
}

export const docsSuite: Suite = {
  figures: [...PHASES.map((p) => `docs.${p}`), 'docs.leveldb_ceiling', 'docs.layout_ceiling', 'docs.peak_rss'],

  async run(wants, emit: Emit) {
    const size = workloadSize();
    note(`docs workload: ${size.docs} docs (~200 B each), ${size.ops} random gets/updates, batches of ${size.batch}`);

    // Refuge first, in a process that has not loaded PouchDB yet, so its peak RSS is its own.
    const sampler = new RssSampler(50);
    let peakMb = 0;
    const refuge: Rates[] = [];
    const pouch: Rates[] = [];
    try {
      await warmUp('refuge', openRefuge);
      refuge.push(await runSide('refuge', openRefuge));
    } finally {
      peakMb = sampler.stop();
      const split = sampler.peakSplitMb;
      const parts = split ? ` (${Math.round(split.anon)} MB anonymous, ${Math.round(split.file)} MB file-backed)` : '';
      note(`refuge side RSS: ${Math.round(sampler.startMb)} MB at start (node + tsx + pouchdb-free process), peak ${Math.round(peakMb)} MB${parts}`);
    }
    const rounds = envInt('BENCH_DOCS_ROUNDS', 3);
    collectGarbage();
    await warmUp('pouchdb', openPouch);
    collectGarbage();
    pouch.push(await runSide('pouchdb', openPouch));
    // Later rounds take turns at going first: PouchDB, Refuge, then Refuge, PouchDB...
    for (let r = 1; r < rounds; r++) {
      const sides = [() => runSide('pouchdb', openPouch).then((x) => pouch.push(x)), () => runSide('refuge', openRefuge).then((x) => refuge.push(x))];
      if (r % 2 === 0) sides.reverse();
      for (const side of sides) {
        collectGarbage();
        await side();
      }
    }
    collectGarbage();

    for (const p of PHASES) {
      const perRound = refuge.map((x, i) => (x[p] / pouch[i]![p]).toFixed(2)).join(' ');
      note(`docs.${p}: median of ${rounds} alternating rounds; ratio per round ${perRound}`);
      emit({ bench: `docs.${p}`, unit: 'docs/s', refuge: median(refuge.map((x) => x[p])), anchor: 'pouchdb-node', anchorValue: median(pouch.map((x) => x[p])) });
    }
    const insert = median(refuge.map((x) => x.bulk_insert));
    if (wants('docs.leveldb_ceiling')) {
      const raw = await withTempDir('raw', (dir) => leveldbCeiling(dir, size.docs, size.batch));
      note(`classic-level raw batch put: ${Math.round(raw)} docs/s`);
      emit({ bench: 'docs.leveldb_ceiling', unit: 'docs/s', refuge: insert, anchor: 'classic-level', anchorValue: raw });
    }
    if (wants('docs.layout_ceiling')) {
      const raw = await withTempDir('layout', (dir) => layoutCeiling(dir, size.docs, size.batch));
      note(`classic-level writing refuge's own batches: ${Math.round(raw)} docs/s`);
      emit({ bench: 'docs.layout_ceiling', unit: 'docs/s', refuge: insert, anchor: 'classic-level (refuge keys)', anchorValue: raw });
    }
    emit({ bench: 'docs.peak_rss', unit: 'MB', refuge: peakMb, anchor: 'target', anchorValue: RSS_TARGET_MB, higherIsBetter: false });
  },
};
