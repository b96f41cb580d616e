// `_find` over a json index reads only what a page needs when the index's order is the answer's
// (no sort, or a sort on its leading fields past those the selector fixes, read backwards when descending), across the index's
// storage pages, and bookmarks walk the whole answer in order; other sorts read the whole range.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

const N = 1300;
const nOf = (i: number) => i % 650;
const id = (i: number) => `d${String(i).padStart(4, '0')}`;
/** The answer in index order: by n, then by document id. */
const ORDER = Array.from({ length: N }, (_, i) => i).sort((a, b) => nOf(a) - nOf(b) || (id(a) < id(b) ? -1 : 1)).map(id);

interface FindAnswer {
  docs: Array<{ _id: string; n: number; other?: number }>;
  bookmark: string;
  execution_stats?: { total_keys_examined: number; total_docs_examined: number };
}

/** `POST {db}/_find`, which must answer 200. */
async function findAt(db: string, body: Record<string, unknown>): Promise<FindAnswer> {
  const r = await request(`${db}/_find`, { method: 'POST', body });
  assert.equal(r.status, 200, r.text);
  return r.body as FindAnswer;
}

describe('_find over a json index, page by page', () => {
  let server: TestServer;
  let url: string;
  const find = (body: Record<string, unknown>) => findAt(url, body);

  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    url = `${server.url}/big`;
    assert.equal((await request(url, { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: N }, (_, i) => ({ _id: id(i), n: nOf(i), other: i % 7 }));
    assert.equal((await request(`${url}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    const index = await request(`${url}/_index`, { method: 'POST', body: { index: { fields: ['n'] }, ddoc: 'by-n', name: 'n' } });
    assert.equal(index.status, 200, index.text);
  });
  after(() => server.close());

  test('a small page reads a little of the index, and bookmarks walk the whole answer in index order', async () => {
    const seen: string[] = [];
    let bookmark: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await find({ selector: { n: { $gte: 0 } }, use_index: 'by-n', limit: 100, fields: ['_id'], execution_stats: true, ...(bookmark && { bookmark }) });
      if (pages === 0) assert.ok(page.execution_stats!.total_keys_examined <= 200, `first page read ${page.execution_stats!.total_keys_examined} keys of ${N}`);
      if (page.docs.length === 0) break;
      seen.push(...page.docs.map((d) => d._id));
      bookmark = page.bookmark;
    }
    assert.deepEqual(seen, ORDER);
  });

  test('an ascending sort on the indexed field reads on across storage pages; the selector still filters', async () => {
    const sorted = await find({ selector: { n: { $gte: 0 } }, use_index: 'by-n', sort: [{ n: 'asc' }], limit: 1000, fields: ['_id'] });
    assert.deepEqual(sorted.docs.map((d) => d._id), ORDER.slice(0, 1000));
    const filtered = await find({ selector: { n: { $gte: 0 }, other: 3 }, use_index: 'by-n', limit: 50, fields: ['_id'], execution_stats: true });
    assert.deepEqual(filtered.docs.map((d) => d._id), ORDER.filter((x) => Number(x.slice(1)) % 7 === 3).slice(0, 50));
    assert.ok(filtered.execution_stats!.total_keys_examined < N, 'it stopped once it had 50 matches');
    const skipped = await find({ selector: { n: { $gte: 0 } }, use_index: 'by-n', skip: 1250, limit: 100, fields: ['_id'] });
    assert.deepEqual(skipped.docs.map((d) => d._id), ORDER.slice(1250));
  });

  test('a descending sort reads the index backwards, as CouchDB does; a sort on another field reads it whole', async () => {
    const desc = await find({ selector: { n: { $gte: 0 } }, use_index: 'by-n', sort: [{ n: 'desc' }], limit: 4, fields: ['_id', 'n'], execution_stats: true });
    assert.deepEqual(desc.docs, [{ _id: 'd1299', n: 649 }, { _id: 'd0649', n: 649 }, { _id: 'd1298', n: 648 }, { _id: 'd0648', n: 648 }]);
    assert.ok(desc.execution_stats!.total_keys_examined <= 200);
    const next = await find({ selector: { n: { $gte: 0 } }, use_index: 'by-n', sort: [{ n: 'desc' }], limit: 2, fields: ['_id'], bookmark: desc.bookmark });
    assert.deepEqual(next.docs.map((d) => d._id), ['d1297', 'd0647']);
    const byOther = await find({ selector: { n: { $gte: 0 } }, use_index: 'by-n', sort: [{ other: 'asc' }], limit: 3, fields: ['_id', 'other'], execution_stats: true });
    assert.deepEqual(byOther.docs.map((d) => d.other), [0, 0, 0]);
    assert.equal(byOther.execution_stats!.total_keys_examined, N);
  });

  test("a sort past leading fields the selector fixes reads the index in its order (CouchDB's can_use_sort)", async () => {
    for (const [fields, name] of [[['other'], 'other'], [['other', 'n'], 'other-n']] as const) {
      const index = await request(`${url}/_index`, { method: 'POST', body: { index: { fields }, ddoc: `by-${name}`, name } });
      assert.equal(index.status, 200, index.text);
    }
    // other = 3 fixed: the index's order there is n's, then the id's.
    const expected = ORDER.filter((x) => Number(x.slice(1)) % 7 === 3);
    const query = { selector: { other: 3 }, sort: ['n'], fields: ['_id'] };
    // Of [other] and [other, n], the one in the sort's order, as CouchDB (the other cannot give it).
    const explained = await request(`${url}/_explain`, { method: 'POST', body: query });
    assert.equal(explained.body.index.name, 'other-n');
    const first = await find({ ...query, limit: 20, execution_stats: true });
    assert.deepEqual(first.docs.map((d) => d._id), expected.slice(0, 20));
    assert.ok(first.execution_stats!.total_keys_examined < expected.length, `read ${first.execution_stats!.total_keys_examined} of ${expected.length} keys for 20 rows`);
    const desc = await find({ ...query, sort: [{ n: 'desc' }], limit: 3 });
    assert.deepEqual(desc.docs.map((d) => d._id), expected.slice(-3).reverse());
    const seen: string[] = [];
    let bookmark: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await find({ ...query, limit: 50, ...(bookmark && { bookmark }) });
      if (page.docs.length === 0) break;
      seen.push(...page.docs.map((d) => d._id));
      bookmark = page.bookmark;
    }
    assert.deepEqual(seen, expected);
  });
});

describe('_find over a json index: pages in the index order', () => {
  let server: TestServer;
  let url: string;
  const find = (body: Record<string, unknown>) => findAt(url, body);
  /** Every id of the answer, walked by bookmarks `limit` at a time. */
  const walk = async (query: Record<string, unknown>, limit: number) => {
    const ids: string[] = [];
    let bookmark: string | undefined;
    for (;;) {
      const page = await find({ ...query, limit, fields: ['_id'], ...(bookmark && { bookmark }) });
      if (page.docs.length === 0) return ids;
      ids.push(...page.docs.map((d) => d._id));
      bookmark = page.bookmark;
    }
  };

  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    url = `${server.url}/order`;
    await request(url, { method: 'PUT' });
    // Strings in CouchDB's collation ("a149" < "B"), and 200 ties on `a` that the index orders by `b`.
    const docs = [
      ...Array.from({ length: 150 }, (_, i) => ({ _id: `x${String(i).padStart(3, '0')}`, s: `a${String(i).padStart(3, '0')}` })),
      { _id: 'zB', s: 'B' },
      ...Array.from({ length: 200 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, a: 1, b: 200 - i })),
    ];
    await request(`${url}/_bulk_docs`, { method: 'POST', body: { docs } });
    await request(`${url}/_index`, { method: 'POST', body: { index: { fields: ['s'] }, ddoc: 'by-s', name: 's' } });
    await request(`${url}/_index`, { method: 'POST', body: { index: { fields: ['a', 'b'] }, ddoc: 'by-ab', name: 'ab' } });
  });
  after(() => server.close());

  test('every page follows the index: strings in its collation, ties by its further fields; bookmarks miss nothing', async () => {
    const byS = { selector: { s: { $gt: '' } }, sort: [{ s: 'asc' }], use_index: 'by-s' };
    const all = (await find({ ...byS, limit: 1000, fields: ['_id'] })).docs.map((d) => d._id);
    assert.equal(all.length, 151);
    assert.equal(all.at(-1), 'zB', '"B" sorts after "a149", as CouchDB collates');
    assert.deepEqual(await walk(byS, 3), all);
    const byA = { selector: { a: 1, b: { $gt: 0 } }, sort: [{ a: 'asc' }], use_index: 'by-ab' };
    const ties = (await find({ ...byA, limit: 1000, fields: ['_id'] })).docs.map((d) => d._id);
    assert.deepEqual(ties.slice(0, 2), ['d199', 'd198'], 'equal `a`: by `b`, as the index holds them');
    assert.deepEqual(await walk(byA, 7), ties);
    const down = { ...byA, sort: [{ a: 'desc' }] };
    assert.deepEqual(await walk(down, 50), [...ties].reverse());
    const explained = await request(`${url}/_explain`, { method: 'POST', body: { ...down, limit: 5 } });
    assert.equal(explained.body.mrargs.direction, 'rev');
  });

  test('a bookmark starts the read right after its row, there or gone: pages deleted as read skip nothing', async () => {
    const db = `${server.url}/drain`;
    await request(db, { method: 'PUT' });
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `k${String(i).padStart(3, '0')}`, n: i % 100 }));
    await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } });
    await request(`${db}/_index`, { method: 'POST', body: { index: { fields: ['n'] }, ddoc: 'by-n', name: 'n' } });
    for (const sort of [[{ n: 'asc' }], [{ n: 'desc' }], [{ _id: 'asc' }]] as Array<Array<Record<string, string>>>) {
      const query = { selector: { n: { $gte: 0 } }, sort, use_index: 'by-n' };
      const whole = (await findAt(db, { ...query, limit: 1000, fields: ['_id'] })).docs.map((d) => d._id);
      assert.equal(whole.length, 300);
      const seen: string[] = [];
      let bookmark: string | undefined;
      for (;;) {
        const page = await findAt(db, { ...query, limit: 40, execution_stats: true, ...(bookmark && { bookmark }) });
        if (page.docs.length === 0) break;
        // In the index's order the read seeks to the bookmark: a page reads about a page of keys.
        if (!('_id' in sort[0]!)) assert.ok(page.execution_stats!.total_keys_examined <= 2 * 100, `read ${page.execution_stats!.total_keys_examined} keys`);
        seen.push(...page.docs.map((d) => d._id));
        bookmark = page.bookmark;
        const gone = page.docs.map((d) => ({ _id: d._id, _rev: (d as { _rev?: string })._rev, _deleted: true }));
        assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: gone } })).status, 201);
      }
      assert.deepEqual(seen, whole, JSON.stringify(sort));
      // A json index's bookmark belongs to its queries only.
      if (bookmark && !('_id' in sort[0]!)) {
        const other = await request(`${db}/_find`, { method: 'POST', body: { selector: { _id: { $gt: null } }, bookmark } });
        assert.deepEqual([other.status, other.body.error], [400, 'invalid_bookmark']);
      }
      const back = docs.map((d) => ({ _id: d._id, n: d.n }));
      assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: back } })).status, 201);
    }
  });
});
