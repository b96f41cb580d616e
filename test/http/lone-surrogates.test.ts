// A lone UTF-16 surrogate written as a JSON escape ("\ud800", no partner) is no Unicode character:
// CouchDB's parser refuses the body whole (400), on every JSON endpoint, and nothing is written.
// Surrogate pairs, and text that only looks like an escape ("\\ud800"), are ordinary strings.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from './raw-http.ts';
import { request, startTestServer, type TestServer } from './server.ts';

describe('lone surrogates in JSON bodies', () => {
  let server: TestServer;
  let port: number;
  before(async () => {
    server = await startTestServer();
    port = Number(new URL(server.url).port);
    assert.equal((await request(`${server.url}/s`, { method: 'PUT' })).status, 201);
  });
  after(() => server.close());

  const send = (method: string, path: string, body: string) => rawRequest(port, { method, path, body });

  test('refused whole, in a value, a member name or a nested array, on every kind of endpoint', async () => {
    const cases: Array<[string, string, string]> = [
      ['PUT', '/s/v', '{"x":"\\ud800"}'],
      ['PUT', '/s/k', '{"\\udc00":1}'],
      ['PUT', '/s/n', '{"a":{"b":["ok","x\\uDBFFy"]}}'],
      ['POST', '/s', '{"x":"\\ud83d"}'],
      ['POST', '/s/_bulk_docs', '{"docs":[{"_id":"fine"},{"_id":"bad","x":"\\udfff"}]}'],
      ['POST', '/s/_find', '{"selector":{"x":"\\ud800"}}'],
      ['PUT', '/s/_security', '{"members":{"names":["\\ud800"]}}'],
      ['PUT', '/s/a', '{"_attachments":{"\\ud800":{"content_type":"text/plain","data":"aGk="}}}'],
    ];
    for (const [method, path, body] of cases) {
      const res = await send(method, path, body);
      assert.equal(res.status, 400, `${method} ${path} ${body}: ${res.text}`);
      assert.equal(JSON.parse(res.text).error, 'bad_request');
    }
    const info = await request(`${server.url}/s`);
    assert.equal(info.body.doc_count, 0, 'nothing was written');
    assert.deepEqual((await request(`${server.url}/s/_security`)).body.members?.names ?? [], []);
  });

  test('surrogate pairs and escaped backslashes are ordinary text', async () => {
    const pair = await send('PUT', '/s/pair', '{"e":"\\ud83d\\ude00","\\ud83d\\ude01":1,"t":"\\\\ud800"}');
    assert.equal(pair.status, 201, pair.text);
    const doc = await request(`${server.url}/s/pair`);
    assert.equal(doc.body.e, '😀');
    assert.equal(doc.body['😁'], 1);
    assert.equal(doc.body.t, '\\ud800');
  });
});
