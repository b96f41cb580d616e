// The storage conformance suite: every StorageEngine must pass it unchanged. Each engine's test file
// calls runStorageConformance with a factory and a way to make fresh locations.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RefugeError } from '../../src/errors/index.ts';
import { prefixRange } from '../../src/storage/ranges.ts';
import type { KvOp, KvRange, KvReader, KvSnapshot, KvStore, StorageEngine } from '../../src/storage/types.ts';

export interface ConformanceOptions {
  /** The engine keeps data across close/open of one location (and locks a location while open). */
  persistent: boolean;
}

/** LevelDB's order: bytewise over the UTF-8 encoding (= code point order, not JS string order). */
export function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** What a scan must return, computed from a plain map (gte wins over gt and lte over lt, as in abstract-level). */
function modelScan(data: ReadonlyMap<string, string>, range: KvRange): Array<[string, string]> {
  let keys = [...data.keys()].sort(compareBytewise);
  keys = keys.filter((k) => {
    if (range.gte !== undefined ? compareBytewise(k, range.gte) < 0 : range.gt !== undefined && compareBytewise(k, range.gt) <= 0) return false;
    if (range.lte !== undefined ? compareBytewise(k, range.lte) > 0 : range.lt !== undefined && compareBytewise(k, range.lt) >= 0) return false;
    return true;
  });
  if (range.reverse) keys.reverse();
  if (range.limit !== undefined && range.limit >= 0) keys = keys.slice(0, range.limit);
  return keys.map((k) => [k, data.get(k)!]);
}

/** Reads a scan, checking every chunk is non-empty and at most `chunkSize` long. */
async function readScan(reader: KvReader, range: KvRange, chunkSize?: number): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const chunk of reader.scan(range, chunkSize)) {
    assert.ok(chunk.length > 0, 'no empty chunks');
    if (chunkSize !== undefined && chunkSize >= 1) assert.ok(chunk.length <= chunkSize, `chunk of ${chunk.length} > ${chunkSize}`);
    out.push(...chunk);
  }
  return out;
}

async function readKeys(reader: KvReader, range: KvRange, chunkSize?: number): Promise<string[]> {
  const out: string[] = [];
  for await (const chunk of reader.scanKeys(range, chunkSize)) {
    assert.ok(chunk.length > 0, 'no empty chunks');
    if (chunkSize !== undefined && chunkSize >= 1) assert.ok(chunk.length <= chunkSize, `chunk of ${chunk.length} > ${chunkSize}`);
    out.push(...chunk);
  }
  return out;
}

const puts = (entries: Record<string, string> | Array<[string, string]>): KvOp[] =>
  (Array.isArray(entries) ? entries : Object.entries(entries)).map(([key, value]) => ({ type: 'put', key, value }));

const isCode = (code: 'closed' | 'bad_request') => (err: unknown) => {
  assert.ok(err instanceof RefugeError, `expected a RefugeError, got ${String(err)}`);
  assert.equal(err.code, code);
  return true;
};

/** Keys chosen around the UTF-8 byte-length boundaries and the surrogate range. */
const TRICKY = ['', '\u0000', 'a', 'a\u0000', 'ab', 'b', '~', '\u007f', '\u0080', 'é', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1F600}', '\u{10FFFF}'];

export function runStorageConformance(
  name: string,
  makeEngine: () => StorageEngine,
  makeLocation: () => Promise<string>,
  opts: ConformanceOptions = { persistent: false },
): void {
  describe(`storage conformance: ${name}`, () => {
    const engine = makeEngine();
    const open: KvStore[] = [];
    const locations: string[] = [];

    async function fresh(): Promise<{ store: KvStore; location: string }> {
      const location = await makeLocation();
      locations.push(location);
      const store = await engine.open({ location });
      open.push(store);
      return { store, location };
    }

    async function reopen(location: string): Promise<KvStore> {
      const store = await engine.open({ location });
      open.push(store);
      return store;
    }

    after(async () => {
      for (const store of open) await store.close().catch(() => {});
      for (const location of locations) await engine.destroy(location);
    });

    test('declares its capabilities, and optional methods exist exactly when declared', async () => {
      const { store } = await fresh();
      assert.equal(store.engine, engine.name);
      assert.equal(typeof engine.name, 'string');
      const caps = store.capabilities;
      for (const k of ['persistent', 'syncWrites', 'getSync', 'approximateSize', 'diskSize', 'compactRange'] as const) {
        assert.equal(typeof caps[k], 'boolean', k);
      }
      assert.equal(caps.persistent, opts.persistent);
      assert.equal(typeof store.getSync === 'function', caps.getSync);
      assert.equal(typeof store.approximateSize === 'function', caps.approximateSize);
      assert.equal(typeof store.diskSize === 'function', caps.diskSize);
      assert.equal(typeof store.compactRange === 'function', caps.compactRange);
    });

    test('put, get, overwrite and delete through batches', async () => {
      const { store } = await fresh();
      await store.batch(puts({ a: '1', b: '2', c: '3' }));
      assert.equal(await store.get('a'), '1');
      assert.equal(await store.get('b'), '2');
      await store.batch([
        { type: 'put', key: 'a', value: 'one' },
        { type: 'del', key: 'b' },
        { type: 'del', key: 'never-there' },
      ]);
      assert.equal(await store.get('a'), 'one');
      assert.equal(await store.get('b'), undefined);
      assert.equal(await store.get('c'), '3');
      // Operations on one key apply in order within a batch.
      await store.batch([
        { type: 'put', key: 'x', value: '1' },
        { type: 'del', key: 'x' },
        { type: 'del', key: 'y' },
        { type: 'put', key: 'y', value: '2' },
        { type: 'put', key: 'z', value: 'first' },
        { type: 'put', key: 'z', value: 'second' },
      ]);
      assert.equal(await store.get('x'), undefined);
      assert.equal(await store.get('y'), '2');
      assert.equal(await store.get('z'), 'second');
      // An empty batch is fine.
      await store.batch([]);
      assert.deepEqual(await readScan(store, {}), [['a', 'one'], ['c', '3'], ['y', '2'], ['z', 'second']]);
    });

    test('a sync batch is written and readable', async () => {
      const { store } = await fresh();
      await store.batch(puts({ s1: 'a', s2: 'b' }), { sync: true });
      await store.batch([{ type: 'del', key: 's1' }], { sync: true });
      assert.deepEqual(await readScan(store, {}), [['s2', 'b']]);
      await store.batch(puts({ s3: 'c' }), { sync: false });
      assert.equal(await store.get('s3'), 'c');
    });

    test('a batch with an invalid operation is rejected whole (bad_request) and applies nothing', async () => {
      const { store } = await fresh();
      await store.batch(puts({ keep: 'old', gone: 'still here' }));
      const valid: KvOp[] = [
        { type: 'put', key: 'keep', value: 'new' },
        { type: 'put', key: 'added', value: 'x' },
        { type: 'del', key: 'gone' },
      ];
      const invalid: unknown[] = [
        { type: 'put', key: null, value: 'v' },
        { type: 'put', key: undefined, value: 'v' },
        // abstract-level would store these as "5" and "[object Object]".
        { type: 'put', key: 5, value: 'v' },
        { type: 'put', key: {}, value: 'v' },
        { type: 'del', key: 7 },
        { type: 'put', key: 'k', value: undefined },
        { type: 'put', key: 'k', value: null },
        { type: 'put', key: 'k', value: 42 },
        { type: 'upsert', key: 'k', value: 'v' },
        { key: 'k', value: 'v' },
        null,
        // A lone surrogate has no UTF-8 form: it would be stored as U+FFFD, merging distinct keys.
        { type: 'put', key: 'bad\ud800', value: 'v' },
        { type: 'put', key: '\udc00', value: 'v' },
      ];
      for (const bad of invalid) {
        for (const ops of [[...valid, bad], [bad, ...valid]]) {
          await assert.rejects(store.batch(ops as KvOp[]), isCode('bad_request'), JSON.stringify(bad) ?? String(bad));
        }
      }
      assert.deepEqual(await readScan(store, {}), [['gone', 'still here'], ['keep', 'old']]);
      // Well-formed astral characters (surrogate pairs) are fine.
      await store.batch(puts({ 'ok\u{1F600}': 'v' }));
      assert.equal(await store.get('ok\u{1F600}'), 'v');
    });

    test('get of a missing key is undefined; getMany keeps order, gaps and duplicates', async () => {
      const { store } = await fresh();
      await store.batch(puts({ a: '1', c: '3', e: '' }));
      assert.equal(await store.get('missing'), undefined);
      assert.equal(await store.get(''), undefined);
      assert.deepEqual(await store.getMany(['c', 'missing', 'a', 'c', 'e', 'z']), ['3', undefined, '1', '3', '', undefined]);
      assert.deepEqual(await store.getMany([]), []);
    });

    test('empty strings are values (and keys) like any other', async () => {
      const { store } = await fresh();
      await store.batch(puts({ '': 'empty key', e: '' }));
      assert.equal(await store.get(''), 'empty key');
      assert.equal(await store.get('e'), '');
      assert.deepEqual(await store.getMany(['e', '']), ['', 'empty key']);
      assert.deepEqual(await readScan(store, {}), [['', 'empty key'], ['e', '']]);
      if (store.getSync) assert.equal(store.getSync('e'), '');
    });

    test('large values (1 MiB, ASCII and multi-byte) come back intact', async () => {
      const { store } = await fresh();
      const ascii = 'x'.repeat(1024 * 1024 - 1) + 'y';
      const multi = '\u00e9\u{1F600}\u4e16'.repeat(100_000);
      await store.batch(puts({ big: ascii, multi, small: 's' }));
      assert.equal(await store.get('big'), ascii);
      assert.equal(await store.get('multi'), multi);
      const [big, m] = await store.getMany(['big', 'multi']);
      assert.ok(big === ascii && m === multi);
      const scanned = await readScan(store, {});
      assert.deepEqual(scanned.map(([k, v]) => [k, v.length]), [['big', ascii.length], ['multi', multi.length], ['small', 1]]);
      assert.ok(scanned[0]![1] === ascii);
    });

    test('scan and scanKeys agree with a model for every bound combination, direction and limit', async () => {
      const { store } = await fresh();
      const data = new Map<string, string>();
      const keys = ['a', 'ab', 'b', 'ba', 'c', 'd', 'd\u0000', 'e', 'f', 'g'];
      keys.forEach((k, i) => data.set(k, `v${i}`));
      await store.batch(puts([...data]));
      const points = ['', 'a', 'aa', 'b', 'd', 'e', 'zz'];
      const lowers: Array<Partial<KvRange>> = [{}];
      const uppers: Array<Partial<KvRange>> = [{}];
      for (const p of points) lowers.push({ gt: p }, { gte: p });
      for (const p of points) uppers.push({ lt: p }, { lte: p });
      let checked = 0;
      for (const lo of lowers) {
        for (const hi of uppers) {
          for (const reverse of [false, true]) {
            for (const limit of [undefined, -1, 0, 1, 3, 1000]) {
              const range: KvRange = { ...lo, ...hi, reverse };
              if (limit !== undefined) range.limit = limit;
              const want = modelScan(data, range);
              const label = JSON.stringify(range);
              assert.deepEqual(await readScan(store, range), want, label);
              assert.deepEqual(await readKeys(store, range, 2), want.map(([k]) => k), label);
              checked++;
            }
          }
        }
      }
      assert.equal(checked, 15 * 15 * 2 * 6);
      // Spot checks that the model is what we think it is.
      assert.deepEqual(await readKeys(store, { gt: 'a', lte: 'c' }), ['ab', 'b', 'ba', 'c']);
      assert.deepEqual(await readKeys(store, { gte: 'b', lt: 'd', reverse: true, limit: 2 }), ['c', 'ba']);
      assert.deepEqual(await readKeys(store, { gt: 'e', lt: 'b' }), []);
      assert.deepEqual(await readKeys(store, { limit: 0 }), []);
    });

    test('random keys and ranges over tricky characters agree with the bytewise model', async () => {
      const { store } = await fresh();
      const keyArb = fc.string({ unit: fc.constantFrom(...TRICKY.filter((c) => c !== '')), maxLength: 3 });
      const rangeArb = fc.record(
        { gt: keyArb, gte: keyArb, lt: keyArb, lte: keyArb, reverse: fc.boolean(), limit: fc.integer({ min: -1, max: 8 }) },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(keyArb, { maxLength: 25 }), fc.array(rangeArb, { minLength: 1, maxLength: 5 }), async (keys, ranges) => {
          await store.clear();
          const data = new Map(keys.map((k, i) => [k, String(i)]));
          await store.batch(puts([...data]));
          for (const range of ranges) {
            assert.deepEqual(await readScan(store, range, 3), modelScan(data, range), JSON.stringify(range));
          }
        }),
        { numRuns: 40 },
      );
    });

    test('keys are ordered bytewise in UTF-8: astral characters sort after U+FFFF', async () => {
      const { store } = await fresh();
      const keys = ['\u{1F600}', '\uffff', '\ue000', 'z', '\u{10000}', '\ud7ff', '\u{10FFFF}', 'é'];
      await store.batch(puts(keys.map((k) => [k, k])));
      const expected = ['z', 'é', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1F600}', '\u{10FFFF}'];
      assert.deepEqual(await readKeys(store, {}), expected);
      assert.deepEqual(await readKeys(store, { reverse: true }), [...expected].reverse());
      // JavaScript's own sort (UTF-16 code units) would disagree: that is why callers must not use it.
      assert.notDeepEqual([...keys].sort(), expected);
      assert.deepEqual(await readKeys(store, { gt: '\uffff' }), ['\u{10000}', '\u{1F600}', '\u{10FFFF}']);
      assert.deepEqual(await readKeys(store, { gte: '\ue000', lt: '\u{1F600}' }), ['\ue000', '\uffff', '\u{10000}']);
    });

    test('chunked delivery respects chunkSize and delivers every entry exactly once, in order', async () => {
      const { store } = await fresh();
      const n = 1000;
      const data = new Map<string, string>();
      for (let i = 0; i < n; i++) data.set(`k${String(i).padStart(4, '0')}`, `v${i}`);
      await store.batch(puts([...data]));
      const all = modelScan(data, {});
      for (const size of [1, 7, 256, 999, 1000, 5000]) {
        assert.deepEqual(await readScan(store, {}, size), all, `chunkSize ${size}`);
        assert.deepEqual(await readKeys(store, { reverse: true }, size), all.map(([k]) => k).reverse(), `keys chunkSize ${size}`);
      }
      // Default chunk size, and a limit that is not a multiple of the chunk size.
      assert.deepEqual(await readScan(store, {}), all);
      assert.deepEqual(await readScan(store, { limit: 10 }, 3), all.slice(0, 10));
      assert.deepEqual(await readKeys(store, { gte: 'k0990' }, 4), all.slice(990).map(([k]) => k));
      // Nonsense chunk sizes fall back to something sane rather than failing or stalling.
      for (const size of [0, -3, Number.NaN, 2.5]) assert.deepEqual(await readScan(store, { limit: 20 }, size), all.slice(0, 20));
      // Leaving a scan early releases it: later writes and close() are not blocked.
      for await (const chunk of store.scan({}, 10)) {
        assert.equal(chunk.length, 10);
        break;
      }
      for await (const chunk of store.scanKeys({}, 10)) {
        assert.equal(chunk.length, 10);
        break;
      }
      await store.batch(puts({ after: 'break' }));
      assert.equal(await store.get('after'), 'break');
    });

    test('a snapshot keeps seeing the data as it was when taken', async () => {
      const { store } = await fresh();
      await store.batch(puts({ a: '1', b: '1', d: '1' }));
      const snap = store.snapshot();
      await store.batch([
        { type: 'put', key: 'a', value: '2' },
        { type: 'del', key: 'b' },
        { type: 'put', key: 'c', value: '2' },
      ]);
      await store.clear({ gte: 'd' });
      assert.equal(await snap.get('a'), '1');
      assert.equal(await snap.get('b'), '1');
      assert.equal(await snap.get('c'), undefined);
      assert.deepEqual(await snap.getMany(['a', 'b', 'c', 'd']), ['1', '1', undefined, '1']);
      assert.deepEqual(await readScan(snap, {}, 2), [['a', '1'], ['b', '1'], ['d', '1']]);
      assert.deepEqual(await readKeys(snap, { reverse: true, limit: 2 }), ['d', 'b']);
      // The store itself sees the new state.
      assert.deepEqual(await readScan(store, {}), [['a', '2'], ['c', '2']]);
      await snap.close();
      await assert.rejects(snap.get('a'), isCode('closed'));
      await assert.rejects(snap.getMany(['a']), isCode('closed'));
      await assert.rejects(readScan(snap, {}), isCode('closed'));
      await assert.rejects(readKeys(snap, {}), isCode('closed'));
      await snap.close(); // closing twice is harmless
      // Closing the store releases snapshots still open.
      const left = store.snapshot();
      await store.close();
      await assert.rejects(left.get('a'), isCode('closed'));
      await left.close();
    });

    test('snapshots read while later writes run see exactly the data of their time (random interleavings)', async () => {
      const { store } = await fresh();
      const keyArb = fc.constantFrom('', 'a', 'ab', 'b', 'c', 'é', '\uffff', '\u{1F600}');
      const rangeArb = fc.record(
        { gt: keyArb, gte: keyArb, lt: keyArb, lte: keyArb, reverse: fc.boolean(), limit: fc.integer({ min: -1, max: 4 }) },
        { requiredKeys: [] },
      );
      const opArb = fc.oneof(
        fc.record({ type: fc.constant('put' as const), key: keyArb, value: fc.string({ maxLength: 3 }) }),
        fc.record({ type: fc.constant('del' as const), key: keyArb }),
      );
      const stepArb = fc.oneof(
        fc.record({ kind: fc.constant('batch' as const), ops: fc.array(opArb, { minLength: 1, maxLength: 4 }) }),
        fc.record({ kind: fc.constant('chain' as const), ops: fc.array(opArb, { minLength: 1, maxLength: 4 }) }),
        fc.record({ kind: fc.constant('clear' as const), range: rangeArb }),
        fc.record({ kind: fc.constant('snapshot' as const) }),
        fc.record({ kind: fc.constant('read' as const), which: fc.nat(), range: rangeArb, chunk: fc.integer({ min: 1, max: 3 }), keys: fc.array(keyArb, { maxLength: 3 }) }),
        fc.record({ kind: fc.constant('close' as const), which: fc.nat() }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { maxLength: 24 }), async (steps) => {
          await store.clear();
          const model = new Map<string, string>();
          const snaps: Array<{ snap: KvSnapshot; data: Map<string, string>; reads: Array<Promise<void>> }> = [];
          const pending: Array<Promise<void>> = [];
          try {
            for (const step of steps) {
              if (step.kind === 'batch' || step.kind === 'chain') {
                // Writes one at a time (engines may apply concurrent writes in any order); snapshot
                // reads issued earlier are still running while they land.
                if (step.kind === 'batch') await store.batch(step.ops);
                else {
                  const chain = store.chain();
                  for (const op of step.ops) op.type === 'put' ? chain.put(op.key, op.value) : chain.del(op.key);
                  await chain.write();
                }
                for (const op of step.ops) op.type === 'put' ? model.set(op.key, op.value) : model.delete(op.key);
              } else if (step.kind === 'clear') {
                await store.clear(step.range);
                for (const [k] of modelScan(model, step.range)) model.delete(k);
              } else if (step.kind === 'snapshot') {
                snaps.push({ snap: store.snapshot(), data: new Map(model), reads: [] });
              } else if (step.kind === 'read' && snaps.length > 0) {
                const s = snaps[step.which % snaps.length]!;
                const label = JSON.stringify(step);
                const read = (async () => {
                  assert.deepEqual(await readScan(s.snap, step.range, step.chunk), modelScan(s.data, step.range), label);
                  assert.deepEqual(await readKeys(s.snap, step.range, step.chunk), modelScan(s.data, step.range).map(([k]) => k), label);
                  assert.deepEqual(await s.snap.getMany(step.keys), step.keys.map((k) => s.data.get(k)), label);
                  for (const k of step.keys) assert.equal(await s.snap.get(k), s.data.get(k), label);
                })();
                s.reads.push(read);
                pending.push(read);
              } else if (step.kind === 'close' && snaps.length > 0) {
                const [s] = snaps.splice(step.which % snaps.length, 1);
                await Promise.all(s!.reads);
                await s!.snap.close();
              }
            }
            await Promise.all(pending);
            assert.deepEqual(await readScan(store, {}), modelScan(model, {}));
          } finally {
            await Promise.allSettled(pending);
            for (const s of snaps) await s.snap.close();
          }
        }),
        { seed: 11, numRuns: 60 },
      );
    });

    test('clear removes a range, a prefix, a limited run, or everything', async () => {
      const { store } = await fresh();
      const keys = ['a', 'b1', 'b2', 'b3', 'c', 'd', 'e', 'f'];
      await store.batch(puts(keys.map((k) => [k, k])));
      await store.clear({ gt: 'b1', lte: 'b3' });
      assert.deepEqual(await readKeys(store, {}), ['a', 'b1', 'c', 'd', 'e', 'f']);
      await store.clear(prefixRange('b'));
      assert.deepEqual(await readKeys(store, {}), ['a', 'c', 'd', 'e', 'f']);
      await store.clear({ gte: 'c', limit: 2 });
      assert.deepEqual(await readKeys(store, {}), ['a', 'e', 'f']);
      await store.clear({ reverse: true, limit: 1 });
      assert.deepEqual(await readKeys(store, {}), ['a', 'e']);
      await store.clear({ gt: 'x' }); // empty range: nothing happens
      assert.deepEqual(await readKeys(store, {}), ['a', 'e']);
      await store.clear();
      assert.deepEqual(await readKeys(store, {}), []);
      await store.clear(); // clearing an empty store is fine
    });

    // Regression: classic-level's clear() stops at a run of keys with zero bytes, so the empty key
    // survived whenever it was the last one left to delete.
    test('clear deletes the empty key too', async () => {
      const { store } = await fresh();
      await store.batch(puts({ '': 'e' }));
      await store.clear();
      assert.deepEqual(await readKeys(store, {}), []);
      await store.batch(puts({ '': 'e', a: 'x' }));
      await store.clear({ lte: '' });
      assert.deepEqual(await readKeys(store, {}), ['a']);
      await store.batch(puts({ '': 'e' }));
      await store.clear({ gte: '', lt: 'a' });
      assert.deepEqual(await readKeys(store, {}), ['a']);
      await store.batch(puts({ '': 'e' }));
      await store.clear({ limit: 1 });
      assert.deepEqual(await readKeys(store, {}), ['a']);
      await store.batch(puts({ '': 'e', b: 'y' }));
      await store.clear({ reverse: true, limit: 2 });
      assert.deepEqual(await readKeys(store, {}), ['']);
      await store.clear({ gt: '' }); // excludes the empty key
      assert.deepEqual(await readKeys(store, {}), ['']);
      await store.clear({ lt: '' }); // an empty range
      assert.deepEqual(await readKeys(store, {}), ['']);
      await store.batch(puts({ a: 'x', b: 'y' }));
      await store.clear({ reverse: true, limit: 5 });
      assert.deepEqual(await readKeys(store, {}), []);
      // Reverse, with the empty key alone in the last run of a long clear (>16 KiB of keys).
      await store.batch(puts([['', 'e'], ...Array.from({ length: 17 }, (_, i): [string, string] => [`${i}`.padStart(1000, 'k'), 'v'])]));
      await store.clear({ reverse: true });
      assert.deepEqual(await readKeys(store, {}), []);
    });

    test('prefixRange selects exactly the keys with the prefix, astral continuations included', async () => {
      const { store } = await fresh();
      const inside = ['doc/', 'doc/a', 'doc/\u007f', 'doc/\uffff', 'doc/\u{1F600}', 'doc/\u{10FFFF}\u{10FFFF}', 'doc/\ue000'];
      const outside = ['doc', 'doc.', 'doc0', 'doc0/\u{1F600}', 'doa/\u{1F600}', 'do', '', 'e', 'doc\u{1F600}'];
      await store.batch(puts([...inside, ...outside].map((k) => [k, 'v'])));
      const range = prefixRange('doc/');
      assert.deepEqual(range, { gte: 'doc/', lt: 'doc0' });
      assert.deepEqual(await readKeys(store, range), [...inside].sort(compareBytewise));
      assert.deepEqual(await readKeys(store, { ...range, reverse: true }), [...inside].sort(compareBytewise).reverse());
      // A prefix ending in '~' (0x7e) is the highest one allowed.
      await store.batch(puts({ 'a~': 'v', 'a~\u{1F600}': 'v', 'a\u007f': 'v' }));
      assert.deepEqual(await readKeys(store, prefixRange('a~')), ['a~', 'a~\u{1F600}']);
      for (const bad of ['', 'doc\u{1F600}', 'caf\u00e9', 'a\u007f']) assert.throws(() => prefixRange(bad), TypeError, JSON.stringify(bad));
    });

    test('getSync, when offered, answers like get', async (t) => {
      const { store } = await fresh();
      if (!store.getSync) return t.skip('engine has no getSync');
      await store.batch(puts({ a: '1', e: '', '\u{1F600}': 'astral' }));
      for (const k of ['a', 'e', '\u{1F600}', 'missing']) assert.equal(store.getSync(k), await store.get(k), k);
      await store.batch([{ type: 'put', key: 'a', value: '2' }]);
      assert.equal(store.getSync('a'), '2');
    });

    test('approximateSize and compactRange, when offered, work', async (t) => {
      const { store } = await fresh();
      if (!store.approximateSize && !store.compactRange) return t.skip('engine has neither');
      await store.batch(puts(Array.from({ length: 200 }, (_, i): [string, string] => [`k${i}`, 'x'.repeat(1000)])));
      if (store.compactRange) await store.compactRange({ gte: 'k', lt: 'l' });
      if (store.approximateSize) {
        const size = await store.approximateSize({ gte: 'k', lt: 'l' });
        assert.equal(typeof size, 'number');
        assert.ok(size >= 0);
        assert.equal(await store.approximateSize({ gte: 'x', lt: 'y' }), 0);
      }
      assert.equal((await readKeys(store, {})).length, 200);
    });

    test('diskSize, when offered, counts what is written (the log included) and shrinks when data is compacted away', async (t) => {
      const { store } = await fresh();
      if (!store.diskSize) return t.skip('engine does not report its disk size');
      const empty = await store.diskSize();
      await store.batch(puts(Array.from({ length: 300 }, (_, i): [string, string] => [`k${i}`, String(i % 7).repeat(2000)])));
      const written = await store.diskSize();
      assert.ok(written > empty + 100_000, `${empty} -> ${written}`);
      if (store.compactRange) {
        await store.clear({ gte: 'k', lt: 'l' });
        await store.compactRange({ gte: 'k', lt: 'l' });
        assert.ok((await store.diskSize()) < written, 'compaction gives the space back');
      }
    });

    test('a scan left between chunks while its snapshot closes fails its next chunk, never the process', async () => {
      const { store } = await fresh();
      await store.batch(puts(Array.from({ length: 300 }, (_, i) => [`k${String(i).padStart(3, '0')}`, 'v'] as [string, string])));
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      try {
        const snap = store.snapshot();
        const it = snap.scan({}, 10)[Symbol.asyncIterator]();
        await it.next();
        await snap.close();
        // The chunk read ahead before the close may still come (then the one read ahead now
        // fails, with nobody waiting on it yet), or the refusal at once.
        const early = await it.next().then(() => undefined, (e: unknown) => e);
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(unhandled, []);
        if (early !== undefined) isCode('closed')(early);
        else {
          await assert.rejects(async () => {
            for (let r = await it.next(); !r.done; r = await it.next());
          }, isCode('closed'));
        }
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    test('every operation after close() fails with RefugeError "closed"', async () => {
      const { store } = await fresh();
      await store.batch(puts({ a: '1' }));
      await store.close();
      const closed = isCode('closed');
      await assert.rejects(store.get('a'), closed);
      await assert.rejects(store.getMany(['a']), closed);
      await assert.rejects(store.batch(puts({ b: '2' })), closed);
      await assert.rejects(store.batch(puts({ b: '2' }), { sync: true }), closed);
      await assert.rejects(readScan(store, {}), closed);
      await assert.rejects(readKeys(store, {}), closed);
      await assert.rejects(store.clear(), closed);
      assert.throws(() => store.snapshot(), closed);
      if (store.getSync) assert.throws(() => store.getSync!('a'), closed);
      if (store.approximateSize) await assert.rejects(store.approximateSize({ gte: 'a', lt: 'b' }), closed);
      if (store.compactRange) await assert.rejects(store.compactRange({ gte: 'a', lt: 'b' }), closed);
      await store.close(); // closing twice is harmless
    });

    test('reopen, when offered, keeps the data, and reads under way or begun meanwhile answer as if it had not happened', async (t) => {
      const { store } = await fresh();
      if (!store.reopen) return t.skip('this engine does not reopen');
      const data = new Map(Array.from({ length: 2000 }, (_, i) => [`k${String(i).padStart(5, '0')}`, `v${i}`] as [string, string]));
      await store.batch(puts([...data]));
      const all = modelScan(data, {});
      for (const range of [{}, { reverse: true }, { gt: 'k00100', limit: 1500 }, { lte: 'k01900', reverse: true, limit: 700 }] as KvRange[]) {
        const want = modelScan(data, range);
        // Scans that took a chunk before the reopen began, entries and keys alike.
        const scan = store.scan(range, 64)[Symbol.asyncIterator]();
        const keys = store.scanKeys(range, 64)[Symbol.asyncIterator]();
        const got: Array<[string, string]> = [...((await scan.next()).value as Array<[string, string]>)];
        const gotKeys: string[] = [...((await keys.next()).value as string[])];
        const reopening = store.reopen();
        // Point reads made while it runs.
        const during = [store.get('k00007'), store.getMany(['k01999', 'nope', 'k00000'])];
        for (let r = await scan.next(); !r.done; r = await scan.next()) got.push(...r.value);
        for (let r = await keys.next(); !r.done; r = await keys.next()) gotKeys.push(...r.value);
        await reopening;
        assert.equal(await during[0], 'v7');
        assert.deepEqual(await during[1], ['v1999', undefined, 'v0']);
        assert.deepEqual(got, want, `scan ${JSON.stringify(range)} across a reopen`);
        assert.deepEqual(gotKeys, want.map(([k]) => k), `scanKeys ${JSON.stringify(range)} across a reopen`);
      }
      assert.deepEqual(await readScan(store, {}), all);
      await store.batch(puts({ after: 'x' }));
      assert.equal(await store.get('after'), 'x');
    });

    test('reopen, when offered: a snapshot it ends goes on with storage as the reopen left it', async (t) => {
      const { store } = await fresh();
      if (!store.reopen) return t.skip('this engine does not reopen');
      const data = new Map(Array.from({ length: 1000 }, (_, i) => [`k${String(i).padStart(4, '0')}`, `v${i}`] as [string, string]));
      await store.batch(puts([...data]));
      const snap = store.snapshot();
      try {
        const scan = snap.scan({}, 50)[Symbol.asyncIterator]();
        const got: Array<[string, string]> = [...((await scan.next()).value as Array<[string, string]>)];
        await store.reopen();
        for (let r = await scan.next(); !r.done; r = await scan.next()) got.push(...r.value);
        assert.deepEqual(got, modelScan(data, {}));
        assert.equal(await snap.get('k0999'), 'v999');
        assert.deepEqual(await snap.getMany(['k0000', 'none']), ['v0', undefined]);
      } finally {
        await snap.close();
      }
    });

    if (opts.persistent) {
      test('data survives close and reopen of the same location', async () => {
        const { store, location } = await fresh();
        const big = 'p'.repeat(1024 * 1024);
        await store.batch(puts({ a: '1', b: '2', big, '\u{1F600}': 'astral', '\uffff': 'bmp' }));
        await store.batch([{ type: 'del', key: 'b' }], { sync: true });
        await store.close();
        const again = await reopen(location);
        assert.equal(await again.get('a'), '1');
        assert.equal(await again.get('b'), undefined);
        assert.equal(await again.get('big'), big);
        assert.deepEqual(await readKeys(again, {}), ['a', 'big', '\uffff', '\u{1F600}']);
        await again.close();
      });

      test('destroy removes the store at a location', async () => {
        const { store, location } = await fresh();
        await store.batch(puts({ a: '1' }));
        await store.close();
        await engine.destroy(location);
        await engine.destroy(location); // destroying what is gone is fine
        const again = await reopen(location);
        assert.deepEqual(await readKeys(again, {}), []);
        await again.close();
      });

      test('a location open in one store cannot be opened again until closed (clear RefugeError)', async () => {
        const { store, location } = await fresh();
        await store.batch(puts({ a: '1' }));
        await assert.rejects(engine.open({ location }), (err: unknown) => {
          assert.ok(err instanceof RefugeError);
          assert.match(err.reason, /already open|in use|lock/i);
          return true;
        });
        // The first store is unharmed.
        assert.equal(await store.get('a'), '1');
        await store.close();
        // Two opens racing for a free location: exactly one wins, the other gets a RefugeError.
        const results = await Promise.allSettled([engine.open({ location }), engine.open({ location })]);
        const won = results.filter((r): r is PromiseFulfilledResult<KvStore> => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        open.push(...won.map((r) => r.value));
        assert.equal(won.length, 1);
        assert.equal(lost.length, 1);
        assert.ok(lost[0]!.reason instanceof RefugeError);
        assert.equal(await won[0]!.value.get('a'), '1');
        await won[0]!.value.close();
      });
    } else {
      test('a non-persistent store starts empty every time it is opened', async () => {
        const { store, location } = await fresh();
        await store.batch(puts({ a: '1' }));
        await store.close();
        const again = await reopen(location);
        assert.deepEqual(await readKeys(again, {}), []);
        await again.close();
        await engine.destroy(location);
      });
    }
  });
}
