// The path index against brute force: random documents, random edits and random queries; the
// index-backed answers (path queries and Mango find) must equal a scan of every document.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openCoreDatabase } from '../../src/core.ts';
import { collate, matchSelector, normalizeSelector } from '../../src/query/index.ts';

const KEYS = ['a', 'b', 'c'];
const scalar = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 3 }),
  fc.double({ min: -3, max: 3, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('', 'x', 'y', 'é', '\u{1F600}', 'x\u0000y', 'a/b'),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, scalar, tie('arr'), tie('obj')),
  arr: fc.array(tie('v'), { maxLength: 3 }),
  obj: fc.dictionary(fc.constantFrom(...KEYS), tie('v'), { maxKeys: 3 }),
})).v;
const body = fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 3 });

/** An independent walk of a document: every (path, value) pair the index should hold. */
function pathsOf(doc: Record<string, unknown>): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  const walk = (path: string, v: unknown) => {
    out.push([path, Array.isArray(v) ? [] : v !== null && typeof v === 'object' ? {} : v]);
    if (Array.isArray(v)) for (const x of v) walk(path + '/[]', x);
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(path + '/' + k.replace(/\\/g, '\\\\').replace(/\//g, '\\/'), x);
  };
  for (const [k, v] of Object.entries(doc)) if (!k.startsWith('_')) walk(k.replace(/\\/g, '\\\\').replace(/\//g, '\\/'), v);
  // One entry per distinct (path, value).
  return out.filter(([p, v], i) => out.findIndex(([q, w]) => q === p && collate(v, w) === 0 && typeof v === typeof w) === i);
}

const paths = fc.constantFrom('a', 'b', 'a/b', 'a/[]', 'a/[]/b', 'b/[]/[]', 'c/a/c');
const query = fc.record(
  {
    path: paths,
    kind: fc.constantFrom('eq', 'range', 'exists'),
    v1: scalar,
    v2: scalar,
    incl1: fc.boolean(),
    incl2: fc.boolean(),
  },
  { requiredKeys: ['path', 'kind', 'v1', 'v2', 'incl1', 'incl2'] },
);

test('path queries equal a brute-force scan over random documents', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 25 }), fc.array(query, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), async (bodies, queries, edits) => {
      const db = await openCoreDatabase('prop');
      try {
        const res = await db.bulkDocs(bodies.map((b, i) => ({ _id: `d${i}`, ...b })));
        // Some edits and deletions, so index entries must move and disappear.
        for (const e of edits) {
          const i = e % bodies.length;
          const cur = await db.get(`d${i}`).catch(() => undefined);
          if (!cur) continue;
          if (e % 3 === 0) await db.remove(cur._id!, cur._rev!);
          else await db.put({ _id: cur._id, _rev: cur._rev, ...bodies[(e * 7) % bodies.length] });
        }
        void res;
        const live = (await db.allDocs({ includeDocs: true })).rows.map((r) => r.doc!);
        for (const q of queries) {
          const [lo, hi] = collate(q.v1, q.v2) <= 0 ? [q.v1, q.v2] : [q.v2, q.v1];
          const pq: Record<string, unknown> = { path: q.path };
          let keep: (v: unknown) => boolean;
          if (q.kind === 'eq') {
            pq.eq = q.v1;
            keep = (v) => collate(v, q.v1) === 0 && typeof v !== 'object';
            if (q.v1 === null) keep = (v) => v === null;
          } else if (q.kind === 'range') {
            pq[q.incl1 ? 'gte' : 'gt'] = lo;
            pq[q.incl2 ? 'lte' : 'lt'] = hi;
            keep = (v) => {
              const a = collate(v, lo);
              const b = collate(v, hi);
              return (q.incl1 ? a >= 0 : a > 0) && (q.incl2 ? b <= 0 : b < 0);
            };
          } else keep = () => true;
          const expected = live
            .flatMap((d) => pathsOf(d).filter(([p, v]) => p === q.path && keep(v)).map(([, v]) => ({ id: d._id!, v })))
            .sort((x, y) => collate(x.v, y.v) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
          const got: Array<{ id: string; v: unknown }> = [];
          for await (const row of db.query(pq as never)) got.push({ id: row.id, v: row.value });
          assert.deepEqual(
            got.map((g) => g.id + ':' + JSON.stringify(g.v)),
            expected.map((e) => e.id + ':' + JSON.stringify(e.v)),
            JSON.stringify(pq),
          );
        }
      } finally {
        await db.close();
      }
    }),
    { numRuns: 60 },
  );
});

const fieldNames = fc.constantFrom('a', 'b', 'a.b', 'c.a.c', 'a.0');
const cond = fc.oneof(
  scalar.map((v) => v),
  scalar.map((v) => ({ $gt: v })),
  scalar.map((v) => ({ $lte: v })),
  fc.tuple(scalar, scalar).map(([x, y]) => ({ $gte: x, $lt: y })),
  fc.array(scalar, { maxLength: 3 }).map((vs) => ({ $in: vs })),
  fc.boolean().map((b) => ({ $exists: b })),
  fc.constantFrom('null', 'boolean', 'number', 'string', 'array', 'object').map((t) => ({ $type: t })),
  scalar.map((v) => ({ $elemMatch: { $eq: v } })),
  scalar.map((v) => ({ $elemMatch: { b: v } })),
  scalar.map((v) => ({ $ne: v })),
  fc.array(scalar, { minLength: 1, maxLength: 2 }).map((vs) => ({ $all: vs })),
);
const selector = fc.oneof(
  fc.dictionary(fieldNames, cond, { minKeys: 1, maxKeys: 2 }),
  fc.tuple(fieldNames, cond, fieldNames, cond).map(([f1, c1, f2, c2]) => ({ $or: [{ [f1]: c1 }, { [f2]: c2 }] })),
);

test('Mango find through the index equals filtering every document', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 25 }), fc.array(selector, { minLength: 1, maxLength: 6 }), async (bodies, selectors) => {
      const db = await openCoreDatabase('prop');
      try {
        await db.bulkDocs(bodies.map((b, i) => ({ _id: `d${String(i).padStart(2, '0')}`, ...b })));
        const live = (await db.allDocs({ includeDocs: true })).rows.map((r) => r.doc!);
        for (const sel of selectors) {
          const norm = normalizeSelector(sel);
          const expected = live.filter((d) => matchSelector(d, norm)).map((d) => d._id).sort();
          const got = (await db.find({ selector: sel, limit: 1000 })).docs.map((d) => d._id).sort();
          assert.deepEqual(got, expected, JSON.stringify(sel));
        }
      } finally {
        await db.close();
      }
    }),
    { numRuns: 80 },
  );
});
