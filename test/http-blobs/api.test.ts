// The node's blob HTTP API: PUT/POST/GET/HEAD/DELETE, verification, Range edges, ETags, `_stat`,
// paged enumeration, bad ids and path tricks, the blob limit, and auth when an admin is configured.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { blobIdToCid } from '../../src/blobs/index.ts';
import { idOf, randomBytesOf, req, startBlobServer, type BlobServer } from './helpers.ts';

const OCTETS = { 'content-type': 'application/octet-stream' };

describe('blob HTTP API (fs blobs)', () => {
  let s: BlobServer;
  before(async () => {
    s = await startBlobServer({ blobLimit: 1024 * 1024 });
  });
  after(() => s.close());

  test('PUT verifies and stores: 201 created, then 200 already there', async () => {
    const data = randomBytesOf(5000);
    const id = idOf(data);
    const first = await req(s.port, 'PUT', `/_blobs/${id}`, { body: data, headers: OCTETS });
    assert.equal(first.status, 201);
    assert.deepEqual(first.json, { ok: true, id, size: 5000 });
    assert.equal(first.headers.etag, `"${id}"`);
    const again = await req(s.port, 'PUT', `/_blobs/${id}`, { body: data, headers: OCTETS });
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, { ok: true, id, size: 5000 });
    const got = await req(s.port, 'GET', `/_blobs/${id}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data));
    assert.equal(got.headers['content-length'], '5000');
    assert.equal(got.headers['content-type'], 'application/octet-stream');
    assert.equal(got.headers['accept-ranges'], 'bytes');
    assert.equal(got.headers.etag, `"${id}"`);
  });

  test('any content type, none at all, and chunked bodies are streamed in', async () => {
    const a = randomBytesOf(3000);
    const r1 = await req(s.port, 'PUT', `/_blobs/${idOf(a)}`, { body: a, headers: { 'content-type': 'image/png' } });
    assert.equal(r1.status, 201);
    const b = randomBytesOf(3000);
    const r2 = await req(s.port, 'PUT', `/_blobs/${idOf(b)}`, { body: b });
    assert.equal(r2.status, 201);
    const c = [randomBytesOf(1000), randomBytesOf(7), randomBytesOf(70_000)];
    const r3 = await req(s.port, 'PUT', `/_blobs/${idOf(...c)}`, { body: c, headers: OCTETS });
    assert.equal(r3.status, 201);
    assert.equal(r3.json.size, 71_007);
  });

  test('the id may be given as a CIDv1; answers use the sha256- spelling', async () => {
    const data = randomBytesOf(100);
    const id = idOf(data);
    const cid = blobIdToCid(id);
    assert.match(cid, /^bafkrei/);
    const put = await req(s.port, 'PUT', `/_blobs/${cid}`, { body: data });
    assert.equal(put.status, 201);
    assert.equal(put.json.id, id);
    const got = await req(s.port, 'GET', `/_blobs/${cid}`);
    assert.ok(got.body.equals(data));
    assert.equal(got.headers.etag, `"${id}"`);
  });

  test('a PUT whose bytes do not match the id is refused and stores nothing', async () => {
    const claimed = randomBytesOf(2000);
    const sent = randomBytesOf(2000);
    const r = await req(s.port, 'PUT', `/_blobs/${idOf(claimed)}`, { body: sent, headers: OCTETS });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'hash_mismatch');
    assert.equal((await req(s.port, 'HEAD', `/_blobs/${idOf(claimed)}`)).status, 404);
    assert.equal((await req(s.port, 'HEAD', `/_blobs/${idOf(sent)}`)).status, 404);
    assert.equal(await s.node.blobs.has(idOf(sent)), false);
  });

  test('concurrent PUTs of the same blob: one 201, the others 200, one copy', async () => {
    const data = randomBytesOf(300_000);
    const id = idOf(data);
    const all = await Promise.all(Array.from({ length: 8 }, () => req(s.port, 'PUT', `/_blobs/${id}`, { body: [data.subarray(0, 1000), data.subarray(1000)] })));
    assert.deepEqual(all.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 201]);
    for (const r of all) assert.deepEqual(r.json, { ok: true, id, size: data.length });
    assert.ok((await req(s.port, 'GET', `/_blobs/${id}`)).body.equals(data));
  });

  test('POST computes the id: 201, then 200 for the same bytes', async () => {
    const data = randomBytesOf(4321);
    const r = await req(s.port, 'POST', '/_blobs', { body: data, headers: OCTETS });
    assert.equal(r.status, 201);
    assert.deepEqual(r.json, { ok: true, id: idOf(data), size: 4321 });
    assert.equal(r.headers.location, `/_blobs/${idOf(data)}`);
    assert.equal((await req(s.port, 'POST', '/_blobs', { body: data })).status, 200);
  });

  test('the empty blob', async () => {
    const id = idOf(new Uint8Array(0));
    const r = await req(s.port, 'PUT', `/_blobs/${id}`, { body: new Uint8Array(0), headers: OCTETS });
    assert.ok(r.status === 201 || r.status === 200);
    const got = await req(s.port, 'GET', `/_blobs/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-length'], '0');
    assert.equal(got.body.length, 0);
    const ranged = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: 'bytes=0-' } });
    assert.equal(ranged.status, 416);
    assert.equal(ranged.headers['content-range'], 'bytes */0');
  });

  describe('Range', () => {
    const data = randomBytesOf(10_000);
    const id = idOf(data);
    before(async () => {
      await req(s.port, 'PUT', `/_blobs/${id}`, { body: data });
    });
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 1], // first byte
      ['bytes=9999-9999', 9999, 10_000], // last byte
      ['bytes=9999-', 9999, 10_000],
      ['bytes=-1', 9999, 10_000], // suffix: last byte
      ['bytes=-100', 9900, 10_000],
      ['bytes=-20000', 0, 10_000], // suffix longer than the blob: all of it
      ['bytes=100-', 100, 10_000], // open-ended
      ['bytes=100-199', 100, 200],
      ['bytes=5000-999999', 5000, 10_000], // end clamped
      ['bytes=5000-99999999999999999999', 5000, 10_000], // a last position past 2^53: to the end (RFC 9110)
      ['bytes=0-99999999999999999999', 0, 10_000],
    ];
    for (const [header, start, end] of cases) {
      test(`${header} -> 206 [${start}, ${end})`, async () => {
        for (const method of ['GET', 'HEAD']) {
          const r = await req(s.port, method, `/_blobs/${id}`, { headers: { range: header } });
          const whole = start === 0 && end === data.length;
          assert.equal(r.status, whole ? 200 : 206, `${method} ${header}`);
          assert.equal(r.headers['content-length'], String(end - start));
          if (!whole) assert.equal(r.headers['content-range'], `bytes ${start}-${end - 1}/10000`);
          if (method === 'GET') assert.ok(r.body.equals(data.subarray(start, end)));
          else assert.equal(r.body.length, 0);
        }
      });
    }
    for (const header of ['bytes=10000-', 'bytes=10000-10001', 'bytes=-0', 'bytes=20000-30000', 'bytes=99999999999999999999-']) {
      test(`${header} -> 416 with Content-Range: bytes */size`, async () => {
        for (const method of ['GET', 'HEAD']) {
          const r = await req(s.port, method, `/_blobs/${id}`, { headers: { range: header } });
          assert.equal(r.status, 416, `${method} ${header}`);
          assert.equal(r.headers['content-range'], 'bytes */10000');
          if (method === 'GET') assert.equal(r.json.error, 'requested_range_not_satisfiable');
        }
      });
    }
    test('several ranges -> 206 multipart/byteranges, one part per range in the order asked (GET and HEAD)', async () => {
      const r = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: 'bytes=0-1, 9998-,-3,100-199' } });
      assert.equal(r.status, 206);
      const boundary = /^multipart\/byteranges; boundary="([^"]+)"$/.exec(String(r.headers['content-type']))?.[1];
      assert.ok(boundary, String(r.headers['content-type']));
      assert.equal(r.headers['content-length'], String(r.body.length));
      assert.equal(r.headers['content-range'], undefined, 'each part has its own');
      assert.equal(r.headers.etag, `"${id}"`);
      const expected = Buffer.concat([
        Buffer.from(`--${boundary}`),
        ...([[0, 2], [9998, 10_000], [9997, 10_000], [100, 200]] as const).flatMap(([start, end]) => [
          Buffer.from(`\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${start}-${end - 1}/10000\r\n\r\n`),
          data.subarray(start, end),
          Buffer.from(`\r\n--${boundary}`),
        ]),
        Buffer.from('--'),
      ]);
      assert.ok(r.body.equals(expected), r.body.subarray(0, 200).toString('latin1'));
      const head = await req(s.port, 'HEAD', `/_blobs/${id}`, { headers: { range: 'bytes=0-1, 9998-,-3,100-199' } });
      assert.equal(head.status, 206);
      assert.equal(head.headers['content-length'], r.headers['content-length'], 'the length the GET sends');
      assert.match(String(head.headers['content-type']), /^multipart\/byteranges; boundary="[^"]+"$/);
      assert.equal(head.body.length, 0);
      // Ranges past the end are left out; when none is left, 416.
      const some = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: 'bytes=20000-,0-0' } });
      assert.equal(some.status, 206);
      assert.equal(some.headers['content-range'], 'bytes 0-0/10000');
      assert.ok(some.body.equals(data.subarray(0, 1)), 'the one range left is sent alone');
      for (const header of ['bytes=20000-,30000-40000', 'bytes=6-7,5-1']) {
        const none = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: header } });
        assert.equal(none.status, 416, header);
        assert.equal(none.headers['content-range'], 'bytes */10000');
      }
    });
    // `0-` among several is the whole blob, as for attachments (CouchDB); so are more than nine.
    for (const header of ['bytes=0-,5-6', Array.from({ length: 10 }, (_, i) => `${i}-${i}`).join(',').replace(/^/, 'bytes='), 'items=0-5', 'bytes=5-1', 'bytes=abc', 'bytes=-']) {
      test(`${header.slice(0, 40)} (the whole blob asked, too many ranges, other units, bad syntax) -> 200 and the whole blob`, async () => {
        const r = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: header } });
        assert.equal(r.status, 200);
        assert.ok(r.body.equals(data));
      });
    }
    test('If-Range with another tag sends the whole blob', async () => {
      const r = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
      assert.equal(r.status, 200);
      const ok = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: 'bytes=0-9', 'if-range': `"${id}"` } });
      assert.equal(ok.status, 206);
    });
    test('If-None-Match -> 304 (GET and HEAD), other tags -> 200', async () => {
      for (const method of ['GET', 'HEAD']) {
        const r = await req(s.port, method, `/_blobs/${id}`, { headers: { 'if-none-match': `"x", "${id}"` } });
        assert.equal(r.status, 304);
        assert.equal(r.body.length, 0);
        assert.equal(r.headers.etag, `"${id}"`);
      }
      assert.equal((await req(s.port, 'GET', `/_blobs/${id}`, { headers: { 'if-none-match': '"x"' } })).status, 200);
    });
  });

  test('HEAD has the GET headers and no body; missing -> 404', async () => {
    const data = randomBytesOf(777);
    const id = idOf(data);
    await req(s.port, 'PUT', `/_blobs/${id}`, { body: data });
    const r = await req(s.port, 'HEAD', `/_blobs/${id}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], '777');
    assert.equal(r.headers.etag, `"${id}"`);
    assert.equal(r.headers['accept-ranges'], 'bytes');
    assert.equal(r.body.length, 0);
    assert.equal((await req(s.port, 'HEAD', `/_blobs/${idOf(randomBytesOf(5))}`)).status, 404);
  });

  test('DELETE: 200, then 404; GET of a missing blob is 404 in CouchDB shape', async () => {
    const data = randomBytesOf(50);
    const id = idOf(data);
    await req(s.port, 'PUT', `/_blobs/${id}`, { body: data });
    const del = await req(s.port, 'DELETE', `/_blobs/${id}`);
    assert.equal(del.status, 200);
    assert.deepEqual(del.json, { ok: true, id });
    assert.equal((await req(s.port, 'DELETE', `/_blobs/${id}`)).status, 404);
    const got = await req(s.port, 'GET', `/_blobs/${id}`);
    assert.equal(got.status, 404);
    assert.equal(got.json.error, 'not_found');
    assert.equal(typeof got.json.reason, 'string');
    // A pinned blob is unpinned first: a delete does not override the pin.
    await req(s.port, 'PUT', `/_blobs/${id}`, { body: data });
    assert.equal((await req(s.port, 'PUT', `/_pins/${id}`)).status, 201);
    const pinned = await req(s.port, 'DELETE', `/_blobs/${id}`);
    assert.deepEqual([pinned.status, pinned.json.error], [409, 'conflict']);
    assert.equal((await req(s.port, 'GET', `/_blobs/${id}`)).status, 200);
    assert.equal((await req(s.port, 'DELETE', `/_pins/${id}`)).status, 200);
    assert.equal((await req(s.port, 'DELETE', `/_blobs/${id}`)).status, 200);
  });

  test('DELETE refuses a blob a document attachment or a ref still uses, as IPFS refuses a pinned block', async () => {
    // An attachment's bytes are a blob: deleting it would leave the document pointing at nothing.
    const att = Buffer.from('attachment bytes that must not vanish');
    assert.equal((await req(s.port, 'PUT', '/keep')).status, 201);
    const put = await req(s.port, 'PUT', '/keep/doc/file.txt', { body: att, headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 201);
    const attId = idOf(att);
    const used = await req(s.port, 'DELETE', `/_blobs/${attId}`);
    assert.deepEqual([used.status, used.json.error], [409, 'conflict']);
    assert.match(used.json.reason, /attachment/);
    assert.ok((await req(s.port, 'GET', '/keep/doc/file.txt')).body.equals(att), 'the attachment still reads');

    // A ref's root (and every root it had) is kept too.
    const data = randomBytesOf(300);
    const id = idOf(data);
    await req(s.port, 'PUT', `/_blobs/${id}`, { body: data });
    const ref = await req(s.port, 'POST', '/_refs/keep-test/_update', { body: Buffer.from(JSON.stringify({ root: id })), headers: { 'content-type': 'application/json' } });
    assert.equal(ref.status, 201);
    const named = await req(s.port, 'DELETE', `/_blobs/${id}`);
    assert.deepEqual([named.status, named.json.error], [409, 'conflict']);
    assert.match(named.json.reason, /ref/);
    assert.equal((await req(s.port, 'GET', `/_blobs/${id}`)).status, 200);

    // A blob nothing uses goes.
    const free = randomBytesOf(40);
    await req(s.port, 'PUT', `/_blobs/${idOf(free)}`, { body: free });
    assert.equal((await req(s.port, 'DELETE', `/_blobs/${idOf(free)}`)).status, 200);
  });

  test('_stat answers many ids at once', async () => {
    const a = randomBytesOf(10);
    const b = randomBytesOf(20);
    await req(s.port, 'PUT', `/_blobs/${idOf(a)}`, { body: a });
    const missing = idOf(b);
    const cid = blobIdToCid(idOf(a));
    const r = await req(s.port, 'POST', '/_blobs/_stat', { body: JSON.stringify({ ids: [idOf(a), missing, cid] }), headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { results: { [idOf(a)]: { size: 10 }, [missing]: null, [cid]: { size: 10 } } });
    const bad = await req(s.port, 'POST', '/_blobs/_stat', { body: JSON.stringify({ ids: ['nope'] }), headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    const notArray = await req(s.port, 'POST', '/_blobs/_stat', { body: JSON.stringify({ ids: 'x' }), headers: { 'content-type': 'application/json' } });
    assert.equal(notArray.status, 400);
  });

  test('bad ids and path tricks: 400 or 404, never a file outside the store', async () => {
    const bodies = ['/_blobs/nope', '/_blobs/sha256-XYZ', `/_blobs/sha256-${'A'.repeat(64)}`, '/_blobs/..%2F..%2Fetc%2Fpasswd', '/_blobs/%2e%2e', '/_blobs/sha256-', '/_blobs/bafkqaaa'];
    for (const path of bodies) {
      const r = await req(s.port, 'GET', path);
      assert.equal(r.status, 400, path);
      assert.equal(r.json.error, 'bad_request', path);
      const put = await req(s.port, 'PUT', path, { body: 'x' });
      assert.equal(put.status, 400, `PUT ${path}`);
    }
    for (const path of ['/_blobs/../../etc/passwd', '/_blobs/a/b', '/_blobs/sha256-00/../x']) {
      const r = await req(s.port, 'GET', path);
      assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
      assert.equal(typeof r.json?.error, 'string', path);
    }
    const r = await req(s.port, 'GET', '/_blobs?after=nope');
    assert.equal(r.status, 400);
    assert.equal((await req(s.port, 'GET', '/_blobs?limit=0')).status, 400);
    assert.equal((await req(s.port, 'GET', '/_blobs?limit=abc')).status, 400);
  });

  test('bodies above the blob limit: 413, nothing stored (declared or chunked)', async () => {
    const big = randomBytesOf(1024 * 1024 + 1);
    const declared = await req(s.port, 'PUT', `/_blobs/${idOf(big)}`, { body: big, headers: OCTETS });
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error, 'too_large');
    const chunked = await req(s.port, 'POST', '/_blobs', { body: [big.subarray(0, 600_000), big.subarray(600_000)] });
    assert.equal(chunked.status, 413);
    assert.equal(await s.node.blobs.has(idOf(big)), false);
    const atLimit = big.subarray(0, 1024 * 1024);
    assert.equal((await req(s.port, 'PUT', `/_blobs/${idOf(atLimit)}`, { body: atLimit })).status, 201);
  });

  test('other methods on blobs: 405', async () => {
    const r = await req(s.port, 'PATCH', `/_blobs/${idOf(randomBytesOf(3))}`, { body: 'x' });
    assert.equal(r.status, 405);
    assert.equal(r.json.error, 'method_not_allowed');
  });
});

describe('enumeration', () => {
  test('GET /_blobs pages through ~500 blobs in id order', async () => {
    const s = await startBlobServer({ engine: 'memory', blobs: { backend: 'memory' } });
    try {
      const ids = new Set<string>();
      for (let i = 0; i < 500; i += 50) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, j) => {
            const data = Buffer.from(`blob ${i + j}`);
            ids.add(idOf(data));
            assert.equal((await req(s.port, 'PUT', `/_blobs/${idOf(data)}`, { body: data })).status, 201);
          }),
        );
      }
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const r = await req(s.port, 'GET', `/_blobs?limit=37${after ? `&after=${after}` : ''}`);
        assert.equal(r.status, 200);
        assert.ok(r.json.ids.length <= 37);
        seen.push(...r.json.ids);
        after = r.json.next;
        pages++;
      } while (after !== undefined);
      assert.deepEqual(seen, [...ids].sort());
      assert.ok(pages >= 14 && pages <= 15);
      const all = await req(s.port, 'GET', '/_blobs');
      assert.equal(all.json.ids.length, 500);
      assert.equal(all.json.next, undefined);
    } finally {
      await s.close();
    }
  });
});

describe('auth', () => {
  test('with an admin configured, every blob route needs it', async () => {
    const s = await startBlobServer({ engine: 'memory', blobs: { backend: 'memory' }, admin: 'admin:secret' });
    try {
      const data = randomBytesOf(64);
      const id = idOf(data);
      const auth = { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` };
      const attempts: Array<[string, string]> = [
        ['PUT', `/_blobs/${id}`],
        ['POST', '/_blobs'],
        ['GET', `/_blobs/${id}`],
        ['HEAD', `/_blobs/${id}`],
        ['DELETE', `/_blobs/${id}`],
        ['GET', '/_blobs'],
        ['GET', '/_blobs/_changes'],
        ['POST', '/_blobs/_uploads'],
        ['GET', '/_blobs/_gc'],
      ];
      for (const [method, path] of attempts) {
        const r = await req(s.port, method, path, method === 'PUT' || method === 'POST' ? { body: data } : {});
        assert.equal(r.status, 401, `${method} ${path}`);
      }
      const stat = await req(s.port, 'POST', '/_blobs/_stat', { body: JSON.stringify({ ids: [id] }), headers: { 'content-type': 'application/json' } });
      assert.equal(stat.status, 401);
      assert.equal(await s.node.blobs.has(id), false);
      assert.equal((await req(s.port, 'PUT', `/_blobs/${id}`, { body: data, headers: auth })).status, 201);
      assert.ok((await req(s.port, 'GET', `/_blobs/${id}`, { headers: auth })).body.equals(data));
    } finally {
      await s.close();
    }
  });
});
