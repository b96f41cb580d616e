// Mango find on `_id`: clauses on it read only the documents they allow, and a sort on it reads in
// id order (a limit ends the read), as CouchDB's `_all_docs` index serves them; with or without
// the path index, and the same answers as filtering and sorting every document.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENGINES, freshDb } from '../helpers/db.ts';
import type { Database } from '../../src/index.ts';

const N = 300;
const idOf = (i: number) => `k${String(i).padStart(3, '0')}`;
const DOCS = Array.from({ length: N }, (_, i) => ({ _id: idOf(i), n: i, even: i % 2 === 0 }));

type Req = Parameters<Database['find']>[0];

/** Every page of `req`, `limit` at a time, through its bookmarks. */
async function allPages(db: Database, req: Req): Promise<string[]> {
  const out: string[] = [];
  let bookmark: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await db.find({ ...req, ...(bookmark !== undefined && { bookmark }) });
    if (page.docs.length === 0) return out;
    out.push(...page.docs.map((d) => d._id!));
    bookmark = page.bookmark;
  }
  throw new Error('pages never ended');
}

for (const engine of ENGINES) {
  for (const autoIndex of [true, false]) {
    describe(`find on _id (${engine}, path index ${autoIndex ? 'on' : 'off'})`, () => {
      test('lookups and ranges read only what they allow; an _id sort reads in order', async (t) => {
        const { db, cleanup } = await freshDb(engine, { autoIndex });
        t.after(cleanup);
        await db.bulkDocs(DOCS);
        await db.put({ _id: '_design/x', views: {} });
        const run = async (req: Req) => {
          const r = await db.find({ ...req, executionStats: true });
          return { ids: r.docs.map((d) => d._id), examined: r.executionStats!.totalDocsExamined, warning: r.warning };
        };
        const one = await run({ selector: { _id: 'k010' } });
        assert.deepEqual([one.ids, one.examined], [['k010'], 1]);
        // CouchDB's warning for an _all_docs read, not the one for examining many per result.
        assert.match(one.warning ?? '', /No matching index found/);
        assert.doesNotMatch(one.warning ?? '', /examined is high/);
        const some = await run({ selector: { _id: { $in: ['k299', 'k001', 'nope', 'k001'] } } });
        assert.deepEqual([some.ids, some.examined], [['k001', 'k299'], 2]);
        const range = await run({ selector: { _id: { $gte: 'k050' } }, limit: 2 });
        assert.deepEqual([range.ids, range.examined], [['k050', 'k051'], 2]);
        const prefix = await run({ selector: { _id: { $beginsWith: 'k12' }, even: true } });
        assert.deepEqual([prefix.ids, prefix.examined], [['k120', 'k122', 'k124', 'k126', 'k128'], 10]);
        const first = await run({ selector: {}, sort: ['_id'], limit: 1 });
        assert.deepEqual([first.ids, first.examined], [['k000'], 1]);
        const last = await run({ selector: { _id: { $lt: 'k200' } }, sort: [{ _id: 'desc' }], limit: 3 });
        assert.deepEqual([last.ids, last.examined], [['k199', 'k198', 'k197'], 3]);
        const looked = await run({ selector: { _id: { $in: ['k005', 'k003', 'k004'] } }, sort: [{ _id: 'desc' }] });
        assert.deepEqual(looked.ids, ['k005', 'k004', 'k003']);
        // Design documents are never answers, read by id or not.
        assert.deepEqual((await run({ selector: { _id: '_design/x' } })).ids, []);
        // CouchDB reads nothing for a top-level $and of no clauses, everything for {}.
        assert.deepEqual((await run({ selector: { $and: [] } })).ids, []);
        assert.equal((await run({ selector: {} })).ids.length, 25);
        const ex = await db.explain({ selector: { _id: { $gt: 'k100', $lte: 'k200' } } });
        assert.equal(ex.index.name, '_all_docs');
        assert.deepEqual([ex.mrargs.start_key, ex.mrargs.end_key], ['k100', 'k200']);
        const sorted = await db.explain({ selector: { _id: { $gt: 'k100' } }, sort: [{ _id: 'desc' }] });
        assert.deepEqual([sorted.index.name, sorted.sorted_by_index, sorted.mrargs.direction], ['_all_docs', true, 'rev']);
      });

      test('pages of _id reads and sorts hold every match once, in order, as a read of everything gives them', async (t) => {
        const { db, cleanup } = await freshDb(engine, { autoIndex });
        t.after(cleanup);
        await db.bulkDocs(DOCS);
        const cases: Array<{ req: Req; want: (d: (typeof DOCS)[number]) => boolean; desc?: boolean }> = [
          { req: { selector: { _id: { $gt: 'k100' } }, sort: ['_id'], limit: 7 }, want: (d) => d._id > 'k100' },
          { req: { selector: { _id: { $gt: 'k100', $lt: 'k250' }, even: false }, sort: [{ _id: 'desc' }], limit: 9 }, want: (d) => d._id > 'k100' && d._id < 'k250' && !d.even, desc: true },
          { req: { selector: { n: { $gte: 40 } }, sort: [{ _id: 'desc' }], limit: 11 }, want: (d) => d.n >= 40, desc: true },
          { req: { selector: { even: true }, sort: ['_id'], limit: 13 }, want: (d) => d.even },
          { req: { selector: { _id: { $lte: 'k150' }, n: { $gt: 20 } }, limit: 17 }, want: (d) => d._id <= 'k150' && d.n > 20 },
          { req: { selector: { _id: { $in: DOCS.filter((d) => d.n % 7 === 0).map((d) => d._id) } }, limit: 5 }, want: (d) => d.n % 7 === 0 },
        ];
        for (const { req, want, desc } of cases) {
          const expected = DOCS.filter(want).map((d) => d._id);
          if (desc) expected.reverse();
          assert.deepEqual(await allPages(db, req), expected, JSON.stringify(req));
        }
      });
    });
  }
}
