// The memory engine (memory-level) against the shared storage conformance suite, its key order, and how its values are kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { memoryEngine, type KvRange, type KvStore } from '../../src/storage/index.ts';
import { runStorageConformance } from './conformance.ts';
import { runWithGc } from '../helpers/gc-child.ts';

let n = 0;
runStorageConformance('memory', () => memoryEngine, async () => `memory-${n++}`, { persistent: false });

// The memory engine keeps keys as remapped JavaScript strings (memory.ts): random well-formed keys,
// astral characters and U+E000..U+FFFF among them, must come back unchanged and in UTF-8 byte order,
// range bounds included, as LevelDB gives them.
test('random keys come back unchanged, in UTF-8 byte order, within UTF-8 bounds', async () => {
  const char = fc.oneof(
    fc.constantFrom('a', 'z', '~', '\u0000', '\u007f', 'é', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uf8ff', '\uffff'),
    fc.constantFrom('\u{10000}', '\u{1F600}', '\u{10FFFF}', '\u{20000}'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  );
  const key = fc.array(char, { maxLength: 6 }).map((cs) => cs.join(''));
  const utf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  await fc.assert(
    fc.asyncProperty(fc.uniqueArray(key, { minLength: 1, maxLength: 30 }), fc.nat(), async (keys, pick) => {
      const store = await memoryEngine.open({ location: 'order' });
      try {
        await store.batch(keys.map((k) => ({ type: 'put' as const, key: k, value: k })));
        const sorted = [...keys].sort(utf8);
        assert.deepEqual(await collectKeys(store, {}), sorted);
        const lo = sorted[pick % sorted.length]!;
        assert.deepEqual(await collectKeys(store, { gte: lo }), sorted.filter((k) => utf8(k, lo) >= 0));
        assert.deepEqual(await collectKeys(store, { lt: lo, reverse: true }), sorted.filter((k) => utf8(k, lo) < 0).reverse());
        for (const k of keys) assert.equal(store.getSync?.(k) ?? (await store.get(k)), k);
      } finally {
        await store.close();
      }
    }),
    { seed: 7, numRuns: 200 },
  );
});

async function collectKeys(store: KvStore, range: KvRange): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of store.scanKeys(range)) out.push(...chunk);
  return out;
}

// A value built of pieces (a record's head and body) is stored flat, as LevelDB's binding stores
// it: kept as V8 made it, each of its pieces held a string and a join of its own on the heap.
test('a value built of pieces takes no more heap once stored than the same value flat', async () => {
  const { flat, built } = await runWithGc<{ flat: number; built: number }>(new URL('../fixtures/memory-value-heap.ts', import.meta.url));
  assert.ok(built < flat * 1.15, `a built value took ${built.toFixed(0)} bytes of heap, a flat one ${flat.toFixed(0)}`);
});
