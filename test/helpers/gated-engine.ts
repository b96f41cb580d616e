// A memory engine whose batch writes can be held, failed or watched: tests of the writer's flush
// pipeline (what is acknowledged, read and stored while a flush is under way).

import { memoryEngine, type KvChain, type StorageEngine } from '../../src/storage/index.ts';

/** The memory engine, each chained batch's write going through `write`, given the chain and a call of its own write. */
export function chainWritesThrough(name: string, write: (chain: KvChain, own: () => Promise<void>) => Promise<void>): StorageEngine {
  return {
    name,
    async open(options) {
      const store = await memoryEngine.open(options);
      const chain = store.chain.bind(store);
      store.chain = () => {
        const c = chain();
        const own = c.write.bind(c);
        c.write = (opts) => write(c, () => own(opts));
        return c;
      };
      return store;
    },
    destroy: (location) => memoryEngine.destroy(location),
  };
}

/**
 * The memory engine, with every batch write held while `hold` is in force: `release` lets the held
 * writes go on, `fail` makes them fail as a disk would (EIO).
 */
export function gatedEngine(): { engine: StorageEngine; hold: () => void; release: () => void; fail: () => void } {
  let gate: Promise<void> = Promise.resolve();
  let release = () => {};
  let fail = () => {};
  const engine = chainWritesThrough('gated-memory', async (_chain, own) => {
    await gate;
    return own();
  });
  return {
    engine,
    hold: () => {
      gate = new Promise((resolve, reject) => {
        release = resolve;
        fail = () => reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
      });
      gate.catch(() => undefined);
    },
    release: () => release(),
    fail: () => fail(),
  };
}

/** Lets pending promise callbacks run, so a read that does not wait would have settled. */
export async function ticks(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}
