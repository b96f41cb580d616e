// COPY's Destination header as CouchDB reads it: the id is percent-decoded (as Fauxton encodes it),
// an absolute URL is refused, and `id?key=rev` names the revision to overwrite.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { socketRequest, type RawResponse } from './raw-http.ts';
import { request, startTestServer, type TestServer } from './server.ts';

describe('COPY Destination', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer();
    u = server.url;
    assert.equal((await request(`${u}/dest`, { method: 'PUT' })).status, 201);
    assert.equal((await request(`${u}/dest/src`, { method: 'PUT', body: { a: 1 } })).status, 201);
  });
  after(() => server.close());

  /** A COPY whose Destination is exactly these bytes (fetch would refuse or re-encode some). */
  const copy = (destination: Buffer): Promise<RawResponse> =>
    socketRequest(
      server.server.port,
      Buffer.concat([Buffer.from('COPY /dest/src HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\nDestination: '), destination, Buffer.from('\r\n\r\n')]),
    );

  test('the id is percent-decoded (a lone % and + stay), raw UTF-8 bytes are UTF-8', async () => {
    const cases: Array<[string, string]> = [
      ['100%25', '100%'],
      ['50%', '50%'],
      ['a%2', 'a%2'],
      ['%zz', '%zz'],
      ['été', 'été'],
      ['a%2Fb', 'a/b'],
      ['my%20doc', 'my doc'],
      ['a+b', 'a+b'],
      ['xxx%E5%95%8Axxx', 'xxx啊xxx'],
      // An encoded ? is part of the id, not the start of `?rev=`.
      ['foo%2Fbar%23baz%3Fpow%3Afiz', 'foo/bar#baz?pow:fiz'],
    ];
    for (const [sent, id] of cases) {
      const res = await copy(Buffer.from(sent, 'utf8'));
      assert.equal(res.status, 201, `${sent}: ${res.text}`);
      assert.equal(JSON.parse(res.text).id, id, sent);
      const got = await request(`${u}/dest/${encodeURIComponent(id)}`);
      assert.equal(got.status, 200, id);
      assert.equal(got.body.a, 1, id);
    }
    // Nothing was made under the encoded ids.
    assert.equal((await request(`${u}/dest/${encodeURIComponent('my%20doc')}`)).status, 404);
    assert.equal((await request(`${u}/dest/${encodeURIComponent('100%25')}`)).status, 404);
    // Bytes that are not UTF-8 name no document, sent raw or encoded.
    for (const bad of [Buffer.from([0x61, 0xff, 0x62]), Buffer.from('a%FFb')]) {
      const res = await copy(bad);
      assert.equal(res.status, 400, res.text);
      assert.equal(JSON.parse(res.text).error, 'illegal_docid');
    }
  });

  test('?key=rev after the id overwrites that revision; other shapes and absolute URLs are 400', async () => {
    const first = await copy(Buffer.from('target'));
    assert.equal(first.status, 201);
    const rev = JSON.parse(first.text).rev as string;
    // CouchDB reads the value after `=` whatever the key, undecoded.
    const over = await copy(Buffer.from(`target?whatever=${rev}`));
    assert.equal(over.status, 201, over.text);
    assert.match(JSON.parse(over.text).rev, /^2-/);
    assert.equal(JSON.parse(over.text).id, 'target');
    assert.equal((await copy(Buffer.from(`target?rev=${rev}`))).status, 409);
    for (const dest of ['target?rev', 'target?rev=1-a=b', 'target?rev=1-a?x=2', 'target?rev=bad', 'http://127.0.0.1/dest/x', 'https://h/x']) {
      const res = await copy(Buffer.from(dest));
      assert.equal(res.status, 400, `${dest}: ${res.text}`);
    }
    assert.equal(JSON.parse((await copy(Buffer.from('http://127.0.0.1/dest/x'))).text).reason, 'Destination URL must be relative.');
    assert.equal((await request(`${u}/dest/target`)).body._rev.slice(0, 2), '2-');
  });
});
