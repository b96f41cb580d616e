// `_explain` for a query a json index serves states the view keys it reads, as CouchDB's does
// (mango_cursor_view:explain → mrargs start_key/end_key): the leading fields' `$eq` values and
// bounds, `<MAX>` past an open end, swapped when a descending sort reads the index backwards.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_explain on a json index: mrargs keys', () => {
  let server: TestServer;
  let db: string;
  const explain = async (body: Record<string, unknown>) => {
    const r = await request(`${db}/_explain`, { method: 'POST', body });
    assert.equal(r.status, 200, r.text);
    return r.body as { index: { ddoc: string }; mrargs: { start_key?: unknown; end_key?: unknown; direction: string } };
  };

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/smash`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    const docs = [
      { _id: 'mario', name: 'mario', series: 'mario', debut: 1981, rank: 5 },
      { _id: 'fox', name: 'fox', series: 'star fox', debut: 1993, rank: 3 },
    ];
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    for (const [ddoc, fields] of [['by-name-series', ['name', 'series']], ['by-debut-rank', ['debut', 'rank']]] as const) {
      const r = await request(`${db}/_index`, { method: 'POST', body: { index: { fields }, ddoc, name: ddoc } });
      assert.equal(r.status, 200, r.text);
    }
  });
  after(() => server.close());

  test('equalities on every field: those values, then <MAX> at the end', async () => {
    const r = await explain({ selector: { name: 'mario', series: 'mario' }, fields: ['_id'] });
    assert.equal(r.index.ddoc, '_design/by-name-series');
    assert.deepEqual([r.mrargs.start_key, r.mrargs.end_key, r.mrargs.direction], [['mario', 'mario'], ['mario', 'mario', '<MAX>'], 'fwd']);
  });

  test('ranges on two fields: each side keeps its bounds; an open side ends with <MAX> (or nothing, at the start)', async () => {
    const both = await explain({ selector: { debut: { $gt: 1992, $lte: 1996 }, rank: { $gte: 3, $lte: 8 } }, use_index: 'by-debut-rank' });
    assert.deepEqual([both.mrargs.start_key, both.mrargs.end_key], [[1992, 3], [1996, 8, '<MAX>']]);
    const lowOnly = await explain({ selector: { debut: { $gte: 1990 }, rank: { $lt: 4 } }, use_index: 'by-debut-rank' });
    assert.deepEqual([lowOnly.mrargs.start_key, lowOnly.mrargs.end_key], [[1990], ['<MAX>']]);
    const highOnly = await explain({ selector: { debut: { $lt: 1990 }, rank: { $gt: 1 } }, use_index: 'by-debut-rank' });
    assert.deepEqual([highOnly.mrargs.start_key, highOnly.mrargs.end_key], [[], [1990, '<MAX>']]);
  });

  test('a field the selector does not bound ends both keys there', async () => {
    const r = await explain({ selector: { name: 'fox', series: { $exists: true } }, use_index: 'by-name-series' });
    assert.deepEqual([r.mrargs.start_key, r.mrargs.end_key], [['fox'], ['fox', '<MAX>']]);
  });

  test('a descending sort reads backwards: the keys swap, as CouchDB apply_opts swaps them', async () => {
    const r = await explain({ selector: { name: 'mario', series: { $gt: 'a' } }, sort: [{ name: 'desc' }, { series: 'desc' }], use_index: 'by-name-series' });
    assert.deepEqual([r.mrargs.direction, r.mrargs.start_key, r.mrargs.end_key], ['rev', ['mario', '<MAX>'], ['mario', 'a']]);
  });
});
