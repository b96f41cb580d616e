// `_find` and `_explain` options of the wrong type, answered as CouchDB's mango_opts:validate_find
// answers them: each option's own error, the first bad option in mango_opts' order named, keys it
// does not know refused only after every known one passed, and a partition refused last of all.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('_find option types, as mango_opts validates them', () => {
  let server: TestServer;
  let db: string;
  const errorOf = async (path: '_find' | '_explain', body: Record<string, unknown>) => {
    const r = await request(`${db}/${path}`, { method: 'POST', body });
    return [r.status, (r.body as { error?: string }).error];
  };

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/types`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${db}/a`, { method: 'PUT', body: { n: 1 } })).status, 201);
  });
  after(() => server.close());

  test('each option of the wrong type is a 400 with its own error, on _find and _explain alike', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ limit: '2' }, 'invalid_non_neg_integer'],
      [{ limit: 1.5 }, 'invalid_non_neg_integer'],
      [{ limit: null }, 'invalid_non_neg_integer'],
      [{ skip: '1' }, 'invalid_non_neg_integer'],
      [{ skip: -1 }, 'invalid_non_neg_integer'],
      [{ sort: 'n' }, 'invalid_sort_json'],
      [{ sort: { n: 'asc' } }, 'invalid_sort_json'],
      [{ sort: [5] }, 'invalid_sort_field'],
      [{ fields: 'n' }, 'invalid_fields'],
      [{ fields: [5] }, 'invalid_field'],
      [{ bookmark: 5 }, 'invalid_bookmark'],
      [{ bookmark: ['x'] }, 'invalid_bookmark'],
      [{ use_index: 5 }, 'invalid_index_name'],
      [{ use_index: { ddoc: 'x' } }, 'invalid_index_name'],
      [{ r: '1' }, 'invalid_pos_integer'],
      [{ r: 0 }, 'invalid_pos_integer'],
      [{ conflicts: 'true' }, 'invalid_boolean'],
      [{ update: 1 }, 'invalid_boolean'],
      [{ stable: 'yes' }, 'invalid_boolean'],
      [{ execution_stats: null }, 'invalid_boolean'],
      [{ stale: true }, 'invalid_ok_or_false_value'],
    ];
    for (const [options, error] of cases) {
      for (const path of ['_find', '_explain'] as const) {
        assert.deepEqual(await errorOf(path, { selector: {}, ...options }), [400, error], `${path} ${JSON.stringify(options)}`);
      }
    }
    // null where mango_opts takes it: no bookmark, no index named.
    const fine = await request(`${db}/_find`, { method: 'POST', body: { selector: {}, bookmark: null, use_index: null } });
    assert.deepEqual([fine.status, fine.body.docs.length], [200, 1]);
  });

  test('of several bad options, the first in mango_opts order is named; unknown keys and a partition come after', async () => {
    // selector, use_index, bookmark, limit, skip, sort, fields, partition, r, conflicts, stale, update, stable, execution_stats
    assert.deepEqual(await errorOf('_find', { limit: '2' }), [400, 'missing_required_key']);
    assert.deepEqual(await errorOf('_find', { selector: {}, sort: 'n', bookmark: 5 }), [400, 'invalid_bookmark']);
    assert.deepEqual(await errorOf('_find', { selector: {}, r: 0, limit: -1 }), [400, 'invalid_non_neg_integer']);
    assert.deepEqual(await errorOf('_find', { selector: {}, stale: 'never', fields: 'n' }), [400, 'invalid_fields']);
    assert.deepEqual(await errorOf('_find', { selector: { n: { $bogus: 1 } }, use_index: 5 }), [400, 'invalid_operator']);
    assert.deepEqual(await errorOf('_find', { selector: {}, bogus: 1, limit: '2' }), [400, 'invalid_non_neg_integer']);
    assert.deepEqual(await errorOf('_explain', { selector: {}, bogus: 1, execution_stats: 'x' }), [400, 'invalid_boolean']);
    assert.deepEqual(await errorOf('_find', { selector: {}, partition: 'p', bogus: 1 }), [400, 'invalid_key']);
    assert.deepEqual(await errorOf('_find', { selector: {}, partition: 'p', r: 0 }), [400, 'invalid_pos_integer']);
    const partition = await request(`${db}/_find`, { method: 'POST', body: { selector: {}, partition: 'p' } });
    assert.deepEqual([partition.status, partition.body], [400, { error: 'bad_request', reason: 'partition specified on non-partitioned db' }]);
  });

  test('a sort direction other than asc or desc is CouchDB\'s invalid_sort_field, naming the spec', async () => {
    const r = await request(`${db}/_find`, { method: 'POST', body: { selector: {}, sort: [{ n: 'up' }] } });
    assert.deepEqual([r.status, r.body], [400, { error: 'invalid_sort_field', reason: 'Invalid sort field: {"n":"up"}' }]);
  });
});
