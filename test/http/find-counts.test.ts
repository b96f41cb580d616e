// `_find`'s counts as CouchDB reads them: its decoder (jiffy) makes a number written with a fraction
// or an exponent a float, and an integer literal an integer of any size; mango_opts takes integers
// only (is_non_neg_integer, is_pos_integer). So `"limit": 2.0` is refused though JSON.parse cannot
// tell it from 2, and `"limit": 100000000000000000000` is taken.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

const HUGE = '100000000000000000000';

describe('_find limit, skip and r as CouchDB decodes them', () => {
  let server: TestServer;
  let db: string;
  const raw = async (path: '_find' | '_explain', text: string) => {
    const r = await request(`${db}/${path}`, { method: 'POST', raw: text, headers: { 'content-type': 'application/json' } });
    return [r.status, r.body];
  };
  const refused = (error: string, reason: string) => [400, { error, reason }];

  before(async () => {
    server = await startTestServer();
    db = `${server.url}/counts`;
    assert.equal((await request(db, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${db}/_bulk_docs`, { method: 'POST', body: { docs: [{ _id: 'a' }, { _id: 'b' }] } })).status, 201);
  });
  after(() => server.close());

  test('a count written as a float is refused, even a whole one', async () => {
    const nonNeg = (shown: string) => refused('invalid_non_neg_integer', `${shown} is not an integer greater than or equal to zero`);
    assert.deepEqual(await raw('_find', '{"selector":{},"limit":2.0}'), nonNeg('2.0'));
    assert.deepEqual(await raw('_find', '{"selector":{},"limit":2.5}'), nonNeg('2.5'));
    assert.deepEqual(await raw('_explain', '{"selector":{},"skip":1E0}'), nonNeg('1.0'));
    assert.deepEqual(await raw('_find', '{"selector":{},"skip":1e21}'), nonNeg('1.0e21'));
    assert.deepEqual(await raw('_find', '{"selector":{},"r":1.0}'), refused('invalid_pos_integer', '1.0 is not an integer greater than zero'));
    // The text inside a string or a nested object is not the member's.
    const [status] = await raw('_find', '{"selector":{"x":{"$ne":"limit: 2.0"}},"fields":["limit"],"limit":2}');
    assert.equal(status, 200);
    // The last of repeated names is the one that counts, as JSON.parse keeps it.
    assert.deepEqual((await raw('_find', '{"selector":{},"limit":2.0,"limit":1}'))[0], 200);
  });

  test('an integer of any size is taken; below zero is still refused, with its digits', async () => {
    for (const member of [`"limit":${HUGE}`, `"r":${HUGE}`]) {
      const [status, answer] = await raw('_find', `{"selector":{},${member}}`);
      assert.deepEqual([status, (answer as { docs: unknown[] }).docs.length], [200, 2], member);
    }
    const [status, answer] = await raw('_find', `{"selector":{},"skip":${HUGE}}`);
    assert.deepEqual([status, (answer as { docs: unknown[] }).docs], [200, []]);
    assert.deepEqual(await raw('_find', `{"selector":{},"skip":-${HUGE}}`), refused('invalid_non_neg_integer', `-${HUGE} is not an integer greater than or equal to zero`));
    const [explained] = await raw('_explain', `{"selector":{},"limit":${HUGE}}`);
    assert.equal(explained, 200);
  });
});
