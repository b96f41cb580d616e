// The ceiling of Refuge's own key layout: the exact batches Refuge writes for the insert workload
// (document records, sequence entries, one path index posting per value per batch, the counters), recorded
// once on the memory engine and then written by raw classic-level with nothing else running.
// docs.leveldb_ceiling writes one key per doc; this one shows what storing the path index costs.

import { ClassicLevel } from 'classic-level';
import { openDatabase } from '../src/index.ts';
import { memoryEngine, type KvChain, type KvOp, type KvStore, type StorageEngine } from '../src/storage/index.ts';
import { note, perSecond } from './report.ts';
import { makeDocs } from './workload.ts';

type Recorded = Array<[key: string, value: string | null]>;

/** The memory engine, with every written batch also kept as a list of [key, value|null]. */
function recordingEngine(batches: Recorded[]): StorageEngine {
  return {
    name: 'recording',
    async open(options) {
      const inner = await memoryEngine.open(options);
      const recordChain = (chain: KvChain): KvChain => {
        const ops: Recorded = [];
        return {
          put: (key, value) => (ops.push([key, value]), chain.put(key, value)),
          del: (key) => (ops.push([key, null]), chain.del(key)),
          get length() {
            return chain.length;
          },
          write: async (opts) => {
            await chain.write(opts);
            batches.push(ops);
          },
          close: () => chain.close(),
        };
      };
      const store: KvStore = Object.create(inner, {
        chain: { value: () => recordChain(inner.chain()) },
        batch: {
          value: async (ops: readonly KvOp[] | ReadonlyMap<string, string | null>, opts?: { sync?: boolean }) => {
            await inner.batch(ops, opts);
            batches.push(ops instanceof Map ? [...ops] : (ops as KvOp[]).map((op) => [op.key, op.type === 'put' ? op.value : null]));
          },
        },
      });
      return store;
    },
    destroy: (location) => memoryEngine.destroy(location),
  };
}

/** Docs/s for raw classic-level writing Refuge's batches for `count` docs inserted `batchSize` at a time. */
export async function layoutCeiling(dir: string, count: number, batchSize: number): Promise<number> {
  const batches: Recorded[] = [];
  const db = await openDatabase('layout', { engine: recordingEngine(batches), durability: 'fast' });
  try {
    for (let i = 0; i < count; i += batchSize) await db.bulkDocs(makeDocs(Math.min(batchSize, count - i), 42, i));
    await db.get(makeDocs(1, 42, count - 1)[0]!._id); // the writes are flushed once a read sees them
  } finally {
    await db.close();
  }
  const keys = batches.reduce((n, b) => n + b.length, 0);
  note(`refuge layout: ${keys} keys in ${batches.length} batches for ${count} docs (${(keys / count).toFixed(1)} per doc)`);

  const raw = new ClassicLevel<string, string>(`${dir}/layout`, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await raw.open();
  try {
    const start = performance.now();
    // One write in flight while the next batch is filled, as Refuge's writer overlaps them.
    let inFlight: Promise<void> = Promise.resolve();
    for (const ops of batches) {
      const chain = raw.batch();
      for (const [key, value] of ops) value === null ? chain.del(key) : chain.put(key, value);
      await inFlight;
      inFlight = chain.write();
    }
    await inFlight;
    return perSecond(count, performance.now() - start);
  } finally {
    await raw.close();
  }
}
