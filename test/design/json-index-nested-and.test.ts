// A json index read is narrowed by every bound of the fields it covers, also when a field carries
// several operators beside other fields ({"type": "a", "n": {"$gt": 10, "$lte": 12}}, which
// normalizes to an AND holding an AND on `n`): only the matching keys are examined.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from '../http/server.ts';

describe('json index bounds inside a nested $and', () => {
  let server: TestServer;
  let db: string;

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/nested`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, type: i % 2 ? 'b' : 'a', n: i >> 1 }));
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs } })).status, 201);
    const r = await request(`${db}/_index`, { method: 'POST', body: { index: { fields: ['type', 'n'] }, ddoc: 'by-type-n', name: 'tn' } });
    assert.equal(r.status, 200, r.text);
  });
  after(() => server.close());

  test('both bounds of `n` narrow the read past the equality on `type`', async () => {
    const r = await request(`${db}/_find`, {
      method: 'POST',
      body: { selector: { type: 'a', n: { $gt: 10, $lte: 12 } }, use_index: 'by-type-n', fields: ['_id', 'n'], execution_stats: true },
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.docs, [{ _id: 'd022', n: 11 }, { _id: 'd024', n: 12 }]);
    // 150 documents have type "a": reading them all to keep two is what this guards against.
    assert.ok(r.body.execution_stats.total_keys_examined <= 3, `examined ${r.body.execution_stats.total_keys_examined} keys`);
    const explained = await request(`${db}/_explain`, { method: 'POST', body: { selector: { type: 'a', n: { $gt: 10, $lte: 12 } }, use_index: 'by-type-n' } });
    assert.match(explained.body.reason, /eq on type from \$eq, then range on n from \$gt, \$lte/);
  });
});
