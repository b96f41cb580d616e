// Map and reduce queries checked against a brute-force model (all rows sorted in memory with the
// comparator), over random documents, random incremental updates and random query options, with
// and without the store's synchronous reads (direct row lookups vs iterator scans), with tiny row
// blocks so block splits, merges and cached reductions are all exercised.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareStrings } from '../../src/query/index.ts';
import { memoryEngine, type KvStore } from '../../src/storage/index.ts';
import { compareKeys, groupKey, ViewGroup, type MapResult, type ViewQueryOptions } from '../../src/views/index.ts';
import { createCountingSandbox } from './counting-sandbox.ts';

interface Row {
  id: string;
  key: unknown;
  value: unknown;
}

const keyArb = fc.oneof(fc.constantFrom(null, true, 1, 2, 'a', 'A', 'b', 'é', 'e\u0301'), fc.constantFrom(['a'], ['a', 1], ['a', 2], ['b', 1], [1, 'x']));
const docArb = fc.record({
  id: fc.constantFrom('d1', 'd2', 'd3', 'D1', 'd10', 'é', 'x\u0001'),
  keys: fc.array(keyArb, { maxLength: 3 }),
  n: fc.integer({ min: 0, max: 9 }),
  del: fc.boolean(),
});
const optsArb: fc.Arbitrary<ViewQueryOptions> = fc.record(
  {
    key: keyArb,
    keys: fc.array(keyArb, { maxLength: 3 }),
    startkey: keyArb,
    endkey: keyArb,
    startkeyDocid: fc.constantFrom('d1', 'd2', 'D1', 'é'),
    endkeyDocid: fc.constantFrom('d1', 'd3', 'x'),
    inclusiveEnd: fc.boolean(),
    descending: fc.boolean(),
    limit: fc.integer({ min: 0, max: 6 }),
    skip: fc.integer({ min: 0, max: 4 }),
  },
  { requiredKeys: [] },
);

const pairCmp = (a: [unknown, string], b: [unknown, string]): number => compareKeys(a[0], b[0]) || compareStrings(a[1], b[1]);
const LOW = '';
const HIGH = '\u{10ffff}';

/** CouchDB's map query semantics over an in-memory row list. */
function model(all: Row[], o: ViewQueryOptions): { rows: Row[]; offset: number } {
  const desc = o.descending === true;
  const sorted = [...all].sort((a, b) => pairCmp([a.key, a.id], [b.key, b.id]));
  const dir = desc ? sorted.reverse() : sorted;
  const inRange = (r: Row, sk: unknown, ek: unknown, hasS: boolean, hasE: boolean): boolean => {
    const p: [unknown, string] = [r.key, r.id];
    const incl = o.inclusiveEnd !== false;
    if (!desc) {
      if (hasS && pairCmp(p, [sk, o.startkeyDocid ?? LOW]) < 0) return false;
      if (hasE && (incl ? pairCmp(p, [ek, o.endkeyDocid ?? HIGH]) > 0 : pairCmp(p, [ek, o.endkeyDocid ?? LOW]) >= 0)) return false;
    } else {
      if (hasS && pairCmp(p, [sk, o.startkeyDocid ?? HIGH]) > 0) return false;
      if (hasE && (incl ? pairCmp(p, [ek, o.endkeyDocid ?? LOW]) < 0 : pairCmp(p, [ek, o.endkeyDocid ?? HIGH]) <= 0)) return false;
    }
    return true;
  };
  let picked: Row[];
  let firstIdx: number;
  if (o.keys) {
    const keys = desc ? [...o.keys].reverse() : o.keys;
    picked = keys.flatMap((k) => dir.filter((r) => inRange(r, k, k, true, true)));
    const k0 = keys[0];
    firstIdx = keys.length === 0 ? 0 : dir.findIndex((r) => (desc ? pairCmp([r.key, r.id], [k0, o.startkeyDocid ?? HIGH]) <= 0 : pairCmp([r.key, r.id], [k0, o.startkeyDocid ?? LOW]) >= 0));
  } else {
    const has = (k: string) => Object.hasOwn(o, k);
    const sk = has('key') ? o.key : o.startkey;
    const ek = has('key') ? o.key : o.endkey;
    const hasS = has('key') || has('startkey');
    const hasE = has('key') || has('endkey');
    picked = dir.filter((r) => inRange(r, sk, ek, hasS, hasE));
    const lowerOnly = (r: Row) => inRange(r, sk, undefined, hasS, false);
    firstIdx = dir.findIndex(lowerOnly);
  }
  if (firstIdx < 0) firstIdx = dir.length;
  const skip = o.skip ?? 0;
  return { rows: picked.slice(skip, skip + (o.limit ?? Infinity)), offset: Math.min(dir.length, firstIdx + skip) };
}

function hideGetSync(store: KvStore): KvStore {
  const wrapped = Object.create(store) as KvStore;
  Object.defineProperty(wrapped, 'getSync', { value: undefined });
  return wrapped;
}

describe('queries against a model', () => {
  for (const direct of [true, false]) {
    test(`map rows, offsets and group_level reduces match the model (${direct ? 'direct lookups' : 'scans only'})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(docArb, { maxLength: 8 }), { minLength: 1, maxLength: 4 }), fc.array(optsArb, { minLength: 1, maxLength: 5 }), async (batches, queries) => {
          const raw = await memoryEngine.open({ location: 'model' });
          const sandbox = await createCountingSandbox();
          const store = direct ? raw : hideGetSync(raw);
          const group = await ViewGroup.open({
            store,
            prefix: 'v!m!',
            sandbox,
            blockSize: 2,
            ddoc: { _id: '_design/m', views: { v: { map: 'function(doc){ doc.keys.forEach(function(k){ emit(k, doc.n) }) }', reduce: '_sum' } } },
          });
          const docs = new Map<string, { keys: unknown[]; n: number }>();
          try {
            let seq = 0;
            for (const batch of batches) {
              const changes = batch.map((d) => {
                seq++;
                if (d.del) docs.delete(d.id);
                else docs.set(d.id, { keys: d.keys, n: d.n });
                return d.del ? { seq, id: d.id, deleted: true } : { seq, id: d.id, deleted: false, doc: { _id: d.id, keys: d.keys, n: d.n } };
              });
              await group.apply(changes, seq);
              const all: Row[] = [...docs].flatMap(([id, d]) => d.keys.map((key) => ({ id, key: JSON.parse(JSON.stringify(key)), value: d.n })));
              for (const q of queries) {
                const o = { ...q, reduce: false };
                if (o.keys) {
                  delete o.key;
                  delete o.startkey;
                  delete o.endkey;
                }
                let got: MapResult;
                try {
                  got = (await group.query('v', o)) as MapResult;
                } catch (e) {
                  assert.equal((e as { code?: string }).code, 'query_parse_error');
                  continue;
                }
                const want = model(all, o);
                assert.deepEqual(
                  got.rows.map((r) => [r.id, r.key]),
                  want.rows.map((r) => [r.id, r.key]),
                  JSON.stringify(o),
                );
                assert.equal(got.total_rows, all.length);
                assert.equal(got.offset, want.offset, `offset ${JSON.stringify(o)}`);
              }
              for (const level of [0, 1, 2, 'exact'] as const) {
                const res = await group.query('v', level === 'exact' ? { group: true } : { groupLevel: level });
                const groups: Array<[unknown, number]> = [];
                const sorted = [...all].sort((a, b) => pairCmp([a.key, a.id], [b.key, b.id]));
                for (const r of sorted) {
                  const g = level === 0 ? null : groupKey(r.key, level);
                  const last = groups[groups.length - 1];
                  if (last && (level === 0 || compareKeys(last[0], g) === 0)) last[1] += r.value as number;
                  else groups.push([g, r.value as number]);
                }
                assert.deepEqual(
                  res.rows.map((r) => [r.key, (r as { value: unknown }).value]),
                  groups,
                  `group level ${level}`,
                );
              }
            }
          } finally {
            sandbox.dispose();
          }
        }),
        { numRuns: Number(process.env.MODEL_RUNS ?? 120) },
      );
    });
  }
});
