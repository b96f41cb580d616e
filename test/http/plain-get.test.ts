// A plain GET of a document (no query) sends the stored body as text, never parsed: it must answer
// what the parsed path answers (here forced by a query that changes nothing), byte for byte but
// for where integer-like keys go, with the same status, headers, 304s and errors.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startTestServer, type TestServer } from './server.ts';

/** Status, headers (but the date and the request's id) and body bytes of one request. */
async function answer(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const res = await fetch(url, init);
  const headers = Object.fromEntries([...res.headers].filter(([k]) => k !== 'date' && k !== 'x-couch-request-id'));
  return { status: res.status, headers, body: await res.text() };
}

/** The answer of the plain GET, and of the same GET through the parsed path. */
async function both(url: string, init: RequestInit = {}) {
  return { plain: await answer(url, init), parsed: await answer(`${url}?revs=false`, init) };
}

describe('plain GET of a document', () => {
  let server: TestServer;
  let db: string;
  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    db = `${server.url}/plain`;
    assert.equal((await fetch(db, { method: 'PUT' })).status, 201);
  });
  after(() => server.close());

  test('answers what the parsed path answers, for any body', async () => {
    // Keys of every kind (integer-like ones reorder, `__proto__` is a plain key), any JSON value.
    const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('__proto__', '1', '01', '-1', 'constructor', 'a b'));
    const body = fc.dictionary(key.filter((k) => !k.startsWith('_')), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const id = `d${n++}/é ${n}`;
        const url = `${db}/${encodeURIComponent(id)}`;
        const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
        const written = (await put.json()) as { rev: string };
        assert.equal(put.status, 201, JSON.stringify(written));
        const { plain, parsed } = await both(url);
        assert.equal(plain.status, 200);
        assert.deepEqual(JSON.parse(plain.body), { _id: id, _rev: written.rev, ...JSON.parse(JSON.stringify(b)) });
        // `_id` and `_rev` lead, as in CouchDB's answer; the parsed path's JSON.stringify puts
        // integer-like keys before them, so only there the bytes differ.
        assert.ok(plain.body.startsWith(`{"_id":${JSON.stringify(id)},"_rev":"${written.rev}"`), plain.body);
        if (Object.keys(b).some((k) => /^(0|[1-9][0-9]*)$/.test(k))) {
          assert.deepEqual({ ...plain, body: JSON.parse(plain.body) }, { ...parsed, body: JSON.parse(parsed.body) });
        } else assert.deepEqual(plain, parsed);
      }),
      { numRuns: 150 },
    );
  });

  test('an empty body, attachments, a design document, HEAD, 304 and the 404s answer alike', async () => {
    const put = (path: string, b: unknown) => fetch(`${db}/${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
    assert.equal((await put('empty', {})).status, 201);
    assert.equal((await put('att', { _attachments: { 'a.txt': { content_type: 'text/plain', data: Buffer.from('hello').toString('base64') } } })).status, 201);
    assert.equal((await put('_design/d', { views: { v: { map: 'function (doc) { emit(doc._id) }' } } })).status, 201);
    const gone = (await (await put('gone', { x: 1 })).json()) as { rev: string };
    assert.equal((await fetch(`${db}/gone?rev=${gone.rev}`, { method: 'DELETE' })).status, 200);
    for (const path of ['empty', 'att', '_design/d', 'gone', 'never']) {
      const get = await both(`${db}/${path}`);
      assert.deepEqual(get.plain, get.parsed, path);
      const head = await both(`${db}/${path}`, { method: 'HEAD' });
      assert.deepEqual(head.plain, head.parsed, `HEAD ${path}`);
      const etag = get.plain.headers.etag;
      if (etag === undefined) continue;
      const cached = await both(`${db}/${path}`, { headers: { 'if-none-match': etag } });
      assert.equal(cached.plain.status, 304, path);
      assert.deepEqual(cached.plain, cached.parsed, `304 ${path}`);
    }
    assert.equal((await answer(`${db}/never`)).status, 404);
    assert.equal(JSON.parse((await answer(`${db}/gone`)).body).reason, 'deleted');
  });
});
