// Document ETags as CouchDB makes them: a `_local` document's names its body (its rev does not),
// and an answer carrying meta fields (_conflicts, _revs_info, ...) has none, so no 304 for it.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

describe('document ETags', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer();
    u = server.url;
    assert.equal((await request(`${u}/tags`, { method: 'PUT' })).status, 201);
  });
  after(() => server.close());

  test('a _local document rewritten under the same rev gets a new ETag, and no stale 304', async () => {
    const doc = `${u}/tags/_local/ckpt`;
    const v1 = await request(doc, { method: 'PUT', body: { last_seq: 10 } });
    assert.equal(v1.body.rev, '0-1');
    const first = await request(doc);
    const tag = first.headers.get('etag')!;
    assert.match(tag, /^"[0-9a-f]{32}"$/);
    // A PUT answers with the tag a GET of what it wrote has.
    assert.equal(v1.headers.get('etag'), tag);
    assert.equal((await request(doc, { headers: { 'if-none-match': tag } })).status, 304);

    // A checkpoint written without _rev stays 0-1, but its body changed.
    const v2 = await request(doc, { method: 'PUT', body: { last_seq: 99 } });
    assert.equal(v2.body.rev, '0-1');
    const again = await request(doc, { headers: { 'if-none-match': tag } });
    assert.equal(again.status, 200);
    assert.equal(again.body.last_seq, 99);
    assert.notEqual(again.headers.get('etag'), tag);
    assert.equal(again.headers.get('etag'), v2.headers.get('etag'));

    // Deleted and written again with the first body: the same document, so the same tag.
    assert.equal((await request(doc, { method: 'DELETE' })).status, 200);
    assert.equal((await request(doc, { method: 'PUT', body: { last_seq: 5 } })).body.rev, '0-1');
    const recreated = await request(doc, { headers: { 'if-none-match': tag } });
    assert.equal(recreated.status, 200);
    assert.equal(recreated.body.last_seq, 5);
  });

  test('answers with meta fields carry no ETag and are never 304; plain ones keep theirs', async () => {
    const winner = '1-ffffffffffffffffffffffffffffffff';
    const put = (rev: string, v: string) =>
      request(`${u}/tags/_bulk_docs`, { method: 'POST', body: { new_edits: false, docs: [{ _id: 'd', _rev: rev, v }] } });
    assert.equal((await put(winner, 'winner')).status, 201);
    const tag = `"${winner}"`;
    // No conflict yet: ?conflicts=true adds nothing, so the answer is tagged like a plain one.
    const before = await request(`${u}/tags/d?conflicts=true`);
    assert.equal(before.headers.get('etag'), tag);
    assert.equal(before.body._conflicts, undefined);

    // A losing branch arrives: the winner (and the plain tag) stays, the ?conflicts=true body changes.
    assert.equal((await put('1-00000000000000000000000000000000', 'loser')).status, 201);
    const after = await request(`${u}/tags/d?conflicts=true`, { headers: { 'if-none-match': tag } });
    assert.equal(after.status, 200);
    assert.deepEqual(after.body._conflicts, ['1-00000000000000000000000000000000']);
    assert.equal(after.headers.get('etag'), null);

    for (const q of ['revs_info=true', 'local_seq=true', 'meta=true', 'conflicts=true&deleted_conflicts=true']) {
      const res = await request(`${u}/tags/d?${q}`, { headers: { 'if-none-match': tag } });
      assert.equal(res.status, 200, q);
      assert.equal(res.headers.get('etag'), null, q);
    }
    const head = await fetch(`${u}/tags/d?revs_info=true`, { method: 'HEAD', headers: { 'if-none-match': tag } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), null);

    // Without meta the winner's tag still revalidates, revs=true too (a revision's path is fixed).
    for (const q of ['', '?revs=true']) {
      const plain = await request(`${u}/tags/d${q}`, { headers: { 'if-none-match': tag } });
      assert.equal(plain.status, 304, q);
      assert.equal(plain.headers.get('etag'), tag, q);
    }
  });
});
