// `_find` options as CouchDB's mango reads them: a sort answers only documents that have the sort
// fields (and a json index on them serves it), `use_index` in each of its spellings, the warnings, `allow_fallback`,
// and bodies with keys CouchDB does not know (refused, changing nothing).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

interface FindAnswer {
  docs: Array<{ _id: string }>;
  warning?: string;
}

describe('_find options, as CouchDB reads them', () => {
  let server: TestServer;
  let url: string;
  let plain: string;
  const find = (db: string, body: Record<string, unknown>) => request(`${db}/_find`, { method: 'POST', body });
  const ids = (r: { body: unknown }) => (r.body as FindAnswer).docs.map((d) => d._id);

  before(async () => {
    server = await startTestServer({ engine: 'memory' });
    url = `${server.url}/mango`;
    plain = `${server.url}/plain`;
    const docs = [{ _id: 'a', n: 2, m: 1 }, { _id: 'b', n: 1, m: 1 }, { _id: 'c', m: 1 }, { _id: 'd', n: null, m: 1 }];
    for (const db of [url, plain]) {
      assert.equal((await request(db, { method: 'PUT' })).status, 201);
      assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    }
    const index = await request(`${url}/_index`, { method: 'POST', body: { index: { fields: ['n'] }, ddoc: 'byn', name: 'n' } });
    assert.equal(index.status, 200, index.text);
  });
  after(() => server.close());

  test('a sort leaves out documents without the sort field; a json index on it serves the sort', async () => {
    for (const selector of [{ m: 1 }, {}]) {
      const viaIndex = await find(url, { selector, sort: ['n'] });
      assert.equal(viaIndex.status, 200, viaIndex.text);
      assert.deepEqual(ids(viaIndex), ['d', 'b', 'a']);
      const explained = await request(`${url}/_explain`, { method: 'POST', body: { selector, sort: ['n'] } });
      assert.equal((explained.body as { index: { ddoc: string } }).index.ddoc, '_design/byn');
      // The path index answers alike where no json index exists.
      const viaPaths = await find(plain, { selector, sort: [{ n: 'desc' }] });
      assert.equal(viaPaths.status, 200, viaPaths.text);
      assert.deepEqual(ids(viaPaths), ['a', 'b', 'd']);
    }
    // Without a sort, a document without the field is answered as before.
    assert.deepEqual(ids(await find(plain, { selector: { m: 1 } })).sort(), ['a', 'b', 'c', 'd']);
  });

  test('use_index: "ddoc", "ddoc/name", [ddoc], [ddoc, name]; null and [] name none; other shapes are 400', async () => {
    const selector = { n: { $exists: true } };
    for (const useIndex of ['byn', 'byn/n', '_design/byn', ['byn'], ['byn', 'n'], ['_design/byn', 'n']]) {
      const r = await find(url, { selector, use_index: useIndex });
      assert.equal(r.status, 200, r.text);
      assert.equal((r.body as FindAnswer).warning, undefined, JSON.stringify(useIndex));
      assert.deepEqual(ids(r).sort(), ['a', 'b', 'd'], JSON.stringify(useIndex));
    }
    for (const none of [null, []]) assert.equal((await find(url, { selector: { m: 1 }, use_index: none })).status, 200);
    const missing = await find(url, { selector: { m: 1 }, use_index: 'byn/other' });
    assert.match((missing.body as FindAnswer).warning ?? '', /_design\/byn, other was not used/);
    for (const bad of [['a', 'b', 'c'], 5, [1], ['a', 2], {}]) {
      const r = await find(url, { selector: { m: 1 }, use_index: bad });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal((r.body as { error: string }).error, 'invalid_index_name');
    }
  });

  test('an index named but not used, then a full scan: both warnings, one a line, as CouchDB joins them', async () => {
    // Nothing but a full scan answers `$exists: false`, and the index on n cannot hold those documents.
    const r = await find(url, { selector: { n: { $exists: false } }, use_index: 'byn' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(ids(r), ['c']);
    assert.equal(
      (r.body as FindAnswer).warning,
      '_design/byn was not used because it does not contain a valid index for this query.\nNo matching index found, create an index to optimize query time.',
    );
  });

  test('more than ten documents examined per result returned: CouchDB\'s scan warning, after the full scan\'s', async () => {
    const db = `${server.url}/ratio`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: 30 }, (_, i) => ({ _id: `r${String(i).padStart(2, '0')}`, n: i, kind: i === 7 ? 'rare' : 'common' }));
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    assert.equal((await request(`${db}/_index`, { method: 'POST', body: { index: { fields: ['n'] }, ddoc: 'byn', name: 'n' } })).status, 200);
    const scanWarning = 'The number of documents examined is high in proportion to the number of results returned. Consider adding a more specific index to improve this.';
    const noIndex = 'No matching index found, create an index to optimize query time.';
    const warningOf = async (body: Record<string, unknown>) => ((await find(db, body)).body as FindAnswer).warning;
    // A full scan (no index serves an `$or`) reading 30 documents for one.
    assert.equal(await warningOf({ selector: { $or: [{ kind: 'rare' }, { n: -1 }] } }), `${noIndex}\n${scanWarning}`);
    // The json index on n reads all 30 to find the one of this kind.
    assert.equal(await warningOf({ selector: { n: { $gte: 0 }, kind: 'rare' }, use_index: 'byn' }), scanWarning);
    // None found by a scan of more than ten is the same.
    assert.equal(await warningOf({ selector: { n: { $gte: 0 }, kind: 'none' }, use_index: 'byn' }), scanWarning);
    // Read for what it answers: nothing to warn about.
    assert.equal(await warningOf({ selector: { kind: 'rare' } }), undefined);
    assert.equal(await warningOf({ selector: { n: { $gte: 0 } }, use_index: 'byn' }), undefined);
    // A page of 5 in the index's order examined 5 documents, not the chunk read ahead for them.
    const page = (await find(db, { selector: { n: { $gte: 0 } }, use_index: 'byn', limit: 5, execution_stats: true })).body as FindAnswer & {
      execution_stats: { total_keys_examined: number; total_docs_examined: number; results_returned: number };
    };
    assert.equal(page.warning, undefined);
    assert.deepEqual([page.execution_stats.total_keys_examined, page.execution_stats.total_docs_examined, page.execution_stats.results_returned], [5, 5, 5]);
  });

  test('_explain echoes the selector normalized and the options as CouchDB validated them', async () => {
    const body = { selector: { n: 2, m: { $gt: 0 } }, use_index: 'byn/n', sort: ['n'], fields: [], r: 2, stale: 'ok', stable: true, conflicts: true, bookmark: '' };
    const r = await request(`${url}/_explain`, { method: 'POST', body });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.index.name, 'n');
    assert.deepEqual(r.body.selector, { $and: [{ n: { $eq: 2 } }, { m: { $gt: 0 } }] });
    assert.deepEqual(r.body.opts, {
      use_index: ['byn', 'n'], bookmark: 'nil', limit: 25, skip: 0, sort: { n: 'asc' }, fields: 'all_fields', partition: '',
      r: 2, conflicts: true, stale: 'ok', update: true, stable: true, execution_stats: false, allow_fallback: true,
    });
    assert.equal(r.body.fields, 'all_fields');
    // stale: "ok" reads the index as it stands, and stably.
    assert.deepEqual([r.body.mrargs.update, r.body.mrargs.stable, r.body.mrargs.conflicts], [false, true, true]);
    const plainExplained = await request(`${plain}/_explain`, { method: 'POST', body: { selector: {}, use_index: '_design/a/b' } });
    assert.deepEqual([plainExplained.body.selector, plainExplained.body.opts.use_index], [{}, ['a/b']]);
    // _all_docs, named as _index lists it.
    assert.deepEqual(plainExplained.body.index, (await request(`${plain}/_index`)).body.indexes[0]);
  });

  test('an empty page hands back its bookmark, "nil" when it was asked with none, as CouchDB', async () => {
    const bookmarkOf = async (db: string, body: Record<string, unknown>) => {
      const r = await find(db, body);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(ids(r), []);
      return (r.body as { bookmark: string }).bookmark;
    };
    // Through the json index on n, the path index and a full scan.
    for (const selector of [{ n: 99 }, { m: 99 }, { n: { $exists: false }, m: 99 }]) {
      assert.equal(await bookmarkOf(url, { selector }), 'nil', JSON.stringify(selector));
      assert.equal(await bookmarkOf(url, { selector, bookmark: 'nil' }), 'nil', JSON.stringify(selector));
    }
    const first = await find(url, { selector: { n: { $gte: 0 } }, limit: 10 });
    const last = (first.body as { bookmark: string }).bookmark;
    assert.equal(await bookmarkOf(url, { selector: { n: { $gte: 0 } }, bookmark: last }), last);
  });

  test('allow_fallback: false refuses a named index that cannot serve, and a query only a full scan answers', async () => {
    const unusable = await find(url, { selector: { m: 1 }, use_index: 'nonexistent', allow_fallback: false });
    assert.equal(unusable.status, 400, unusable.text);
    assert.equal((unusable.body as { error: string }).error, 'no_usable_index');
    // No clause of `$exists: false` can use the path index: only a full scan answers it.
    const fullScan = { selector: { n: { $exists: false } }, allow_fallback: false };
    const refused = await find(plain, fullScan);
    assert.equal(refused.status, 400, refused.text);
    assert.equal((refused.body as { error: string }).error, 'no_usable_index');
    assert.deepEqual(ids(await find(plain, { ...fullScan, allow_fallback: true })), ['c']);
    // With it true (the default), the same queries are answered.
    assert.equal((await find(url, { selector: { m: 1 }, use_index: 'nonexistent' })).status, 200);
    assert.equal((await find(url, { selector: { n: 1 }, allow_fallback: false })).status, 200);
    assert.equal((await find(url, { selector: { m: 1 }, allow_fallback: 'no' })).status, 400);
  });

  test('keys CouchDB does not know are refused (invalid_key) and create nothing; stale takes ok or false', async () => {
    const r = await find(url, { selector: {}, unknown_field: 1 });
    assert.equal(r.status, 400);
    assert.equal((r.body as { error: string }).error, 'invalid_key');
    const explain = await request(`${url}/_explain`, { method: 'POST', body: { selector: {}, bogus: true } });
    assert.equal(explain.status, 400);
    const index = await request(`${url}/_index`, { method: 'POST', body: { index: { fields: ['m'] }, ddoc: 'bym', bogus: 1 } });
    assert.equal(index.status, 400);
    assert.equal((index.body as { error: string }).error, 'invalid_key');
    assert.equal((await request(`${url}/_design/bym`)).status, 404);
    for (const stale of ['ok', 'false', false]) assert.equal((await find(url, { selector: { m: 1 }, stale })).status, 200, String(stale));
    const badStale = await find(url, { selector: { m: 1 }, stale: 'bogus' });
    assert.equal(badStale.status, 400);
    assert.equal((badStale.body as { error: string }).error, 'invalid_ok_or_false_value');
  });
});
