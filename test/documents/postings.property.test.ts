// Posting lists of the path index: replaying a value's postings gives the entries a plain set would
// hold after the same adds and removes, and merges (light or full, in any order) never change them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  groupTag,
  logicalEntries,
  MERGED_CHUNK,
  planMerge,
  PostingCollector,
  resolvePostings,
  valuePrefix,
} from '../../src/documents/postings.ts';
import { scanPostings, scanRows } from '../../src/documents/posting-scan.ts';
import { compareStrings, encodeIndexValue } from '../../src/query/index.ts';
import { memoryEngine } from '../../src/storage/index.ts';

// The collector takes values unencoded and stores them encoded (a string is '5' + itself).
const PREFIX = valuePrefix('city', '5Paris');

type Op = [id: string, present: boolean];

/** Stores groups of ops as postings in a sorted map, as the write path does. */
function write(store: Map<string, string>, groups: Op[][], firstGroup = 1): void {
  groups.forEach((ops, g) => {
    const c = new PostingCollector();
    for (const [id, present] of ops) c.set('city', 'Paris', id, present);
    c.forEach(groupTag(firstGroup + g), (k, v) => store.set(k, v));
  });
}

const sorted = (store: Map<string, string>) => [...store].sort((a, b) => compareStrings(a[0], b[0]));

function model(groups: Op[][]): string[] {
  const set = new Set<string>();
  for (const ops of groups) for (const [id, present] of ops) present ? set.add(id) : set.delete(id);
  return [...set].sort(compareStrings);
}

function applyMerge(store: Map<string, string>, full: boolean): void {
  const plan = planMerge(PREFIX, sorted(store), full);
  if (!plan) return;
  for (const k of plan.del) store.delete(k);
  for (const [k, v] of plan.put) store.set(k, v);
}

// Ids from a small alphabet (so groups add and remove the same ones), non-ASCII included: order is
// UTF-8 byte order, as LevelDB compares keys.
const arbId = fc.constantFrom('a', 'b', 'c', 'd', 'é', 'z9', '\u{1F600}', '\uFFFD', 'a/b');
const arbGroups = fc.array(fc.array(fc.tuple(arbId, fc.boolean()), { minLength: 1, maxLength: 6 }), { maxLength: 12 });

test('replaying postings equals a set given the same adds and removes; merges keep it', () => {
  fc.assert(
    fc.property(arbGroups, arbGroups, fc.array(fc.boolean(), { maxLength: 3 }), (before, after, merges) => {
      const store = new Map<string, string>();
      write(store, before);
      for (const full of merges) applyMerge(store, full);
      assert.deepEqual(resolvePostings(sorted(store).map(([, v]) => v)), model(before));
      // Groups written after merges still apply last.
      write(store, after, before.length + 1);
      assert.deepEqual(resolvePostings(sorted(store).map(([, v]) => v)), model([...before, ...after]));
      applyMerge(store, false);
      assert.deepEqual(resolvePostings(sorted(store).map(([, v]) => v)), model([...before, ...after]));
      applyMerge(store, true);
      const all = sorted(store);
      assert.deepEqual(resolvePostings(all.map(([, v]) => v)), model([...before, ...after]));
      // After a full merge: additions only, in at most one posting here (few ids).
      assert.ok(all.length <= 1);
      for (const [, v] of all) assert.ok(!v.includes('\u0000-') && v[0] === '+');
    }),
    { numRuns: 500 },
  );
});

test('a full merge writes sorted chunks of MERGED_CHUNK ids; light merges leave them alone', () => {
  const store = new Map<string, string>();
  const ids = Array.from({ length: MERGED_CHUNK * 2 + 5 }, (_, i) => `d${String(i).padStart(6, '0')}`);
  write(store, [ids.slice(0, 3000).map((id) => [id, true] as Op), ids.slice(3000).map((id) => [id, true] as Op)]);
  applyMerge(store, true);
  assert.equal(store.size, 3);
  assert.deepEqual(resolvePostings(sorted(store).map(([, v]) => v)), ids);
  const chunks = new Set(store.keys());
  // Ten small groups since: a light merge combines them into one, keeping the chunks untouched.
  write(store, Array.from({ length: 10 }, (_, g) => [[ids[g]!, false] as Op, [`n${g}`, true] as Op]), 10);
  applyMerge(store, false);
  assert.equal(store.size, 4);
  for (const k of chunks) assert.ok(store.has(k));
  const want = [...ids.slice(10), ...Array.from({ length: 10 }, (_, g) => `n${g}`)].sort(compareStrings);
  assert.deepEqual(resolvePostings(sorted(store).map(([, v]) => v)), want);
  assert.deepEqual(logicalEntries(sorted(store)), want.map((id) => PREFIX.slice(2) + id));
});

test('scanPostings streams (value, id) rows in order both ways and reports fragmented values', async () => {
  const store = await memoryEngine.open({ location: 'postings' });
  try {
    const rows: Array<[string, string]> = [];
    for (const [value, groups] of [['sLyon', 3], ['sParis', 12]] as const) {
      for (let g = 0; g < groups; g++) rows.push([valuePrefix('city', value) + groupTag(g + 1), `+x${g}\u0000+a${g}`]);
    }
    await store.batch(rows.map(([key, value]) => ({ type: 'put' as const, key, value })));
    const range = { gte: 'i!city\u0000', lt: 'i!city\u0001' };
    const fragmented: string[] = [];
    const stats = { keys: 0 };
    const got: Array<[string, string]> = [];
    for await (const chunk of scanPostings(store, range, false, stats, (p) => fragmented.push(p), 5)) got.push(...chunk);
    const want = [
      ...['a0', 'a1', 'a2', 'x0', 'x1', 'x2'].map((id) => ['sLyon', id]),
      ...Array.from({ length: 12 }, (_, g) => [`a${g}`, `x${g}`]).flat().sort(compareStrings).map((id) => ['sParis', id]),
    ];
    assert.deepEqual(got, want);
    assert.equal(stats.keys, 30);
    assert.deepEqual(fragmented, [valuePrefix('city', 'sParis')]);
    const back: Array<[string, string]> = [];
    for await (const chunk of scanPostings(store, range, true, { keys: 0 })) back.push(...chunk);
    assert.deepEqual(back, [...want].reverse());
  } finally {
    await store.close();
  }
});

test('scanRows gives rows of many values per chunk, growing from the first chunk asked to the most', async () => {
  // One document per value (a counter, a date): a chunk per value would be a document read per row.
  const store = await memoryEngine.open({ location: 'rows' });
  try {
    const c = new PostingCollector();
    for (let i = 0; i < 100; i++) c.set('n', i, `d${i}`, true);
    const puts: Array<{ type: 'put'; key: string; value: string }> = [];
    c.forEach(groupTag(1), (key, value) => puts.push({ type: 'put', key, value }));
    await store.batch(puts);
    for (const descending of [false, true]) {
      const sizes: number[] = [];
      const ids: string[] = [];
      for await (const chunk of scanRows(store, { kind: 'range', path: 'n', gte: 10 }, descending, { keys: 0 }, undefined, 16, 3)) {
        sizes.push(chunk.length);
        for (const [section, value, id] of chunk) {
          assert.equal(section, 0);
          assert.equal(value, encodeIndexValue(Number(id.slice(1))));
          ids.push(id);
        }
      }
      const want = Array.from({ length: 90 }, (_, i) => `d${i + 10}`);
      assert.deepEqual(ids, descending ? want.reverse() : want);
      assert.deepEqual(sizes, [3, 6, 12, 16, 16, 16, 16, 5]);
    }
  } finally {
    await store.close();
  }
});

test('scanPostings over any mix of merged chunks and later postings equals the model, both ways', async () => {
  // Ids enough for several chunks, so a full merge leaves many and later groups overlay them.
  const many = Array.from({ length: MERGED_CHUNK * 3 }, (_, i) => `m${String(i).padStart(5, '0')}`);
  const arbBig = fc.array(fc.array(fc.tuple(fc.oneof(arbId, fc.constantFrom(...many)), fc.boolean()), { minLength: 1, maxLength: 8 }), { maxLength: 10 });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: many.length }), arbBig, fc.boolean(), fc.integer({ min: 1, max: 700 }), async (bulk, after, full, rowsPerChunk) => {
      const store = new Map<string, string>();
      // Two groups, so the full merge has something to merge into chunks.
      const half = bulk >> 1;
      const first: Op[][] = [many.slice(0, half), many.slice(half, bulk)].map((ids) => ids.map((id) => [id, true] as Op));
      write(store, first);
      applyMerge(store, true);
      if (bulk > 1) assert.ok([...store.keys()].every((k) => k.includes('.')));
      write(store, after, 3);
      if (full) applyMerge(store, false);
      const want = model([...first, ...after]);
      const kv = await memoryEngine.open({ location: 'scan' });
      try {
        await kv.batch([...store].map(([key, value]) => ({ type: 'put' as const, key, value })));
        const range = { gte: 'i!city\u0000', lt: 'i!city\u0001' };
        for (const descending of [false, true]) {
          const got: string[] = [];
          for await (const rows of scanPostings(kv, range, descending, { keys: 0 }, undefined, rowsPerChunk)) {
            assert.ok(rows.length <= rowsPerChunk);
            for (const [enc, id] of rows) assert.equal(enc, '5Paris'), got.push(id);
          }
          assert.deepEqual(got, descending ? [...want].reverse() : want);
        }
      } finally {
        await kv.close();
      }
    }),
    { numRuns: 60 },
  );
});
