// Reading attachments as CouchDB serves them: `atts_since=[]` (no ancestor named, so every
// attachment's data), and several byte ranges at once (206 multipart/byteranges).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, startTestServer, type TestServer } from './server.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('attachment reads', () => {
  let server: TestServer;
  let u: string;
  before(async () => {
    server = await startTestServer();
    u = server.url;
    assert.equal((await request(`${u}/reads`, { method: 'PUT' })).status, 201);
  });
  after(() => server.close());

  test('atts_since=[] sends every attachment with its data, as JSON, multipart and in open_revs', async () => {
    const put = await request(`${u}/reads/d`, {
      method: 'PUT',
      body: { _attachments: { 'a.txt': { content_type: 'text/plain', data: b64('hi') }, 'b.txt': { content_type: 'text/plain', data: b64('there') } } },
    });
    assert.equal(put.status, 201);
    const json = await request(`${u}/reads/d?atts_since=[]`);
    assert.equal(json.status, 200);
    assert.equal(json.body._attachments['a.txt'].data, b64('hi'));
    assert.equal(json.body._attachments['b.txt'].data, b64('there'));
    assert.equal(json.body._attachments['a.txt'].stub, undefined);
    assert.equal(json.body._revisions, undefined);

    const related = await fetch(`${u}/reads/d?atts_since=[]`, { headers: { accept: 'multipart/related' } });
    assert.match(related.headers.get('content-type')!, /^multipart\/related/);
    const text = await related.text();
    assert.match(text, /"a\.txt":\{[^}]*"follows":true/);
    assert.match(text, /\r\n\r\nthere\r\n/);

    const open = await request(`${u}/reads/d?open_revs=${encodeURIComponent(JSON.stringify([put.body.rev]))}&atts_since=[]`);
    assert.equal(open.body[0].ok._attachments['b.txt'].data, b64('there'));
  });

  test('several byte ranges answer 206 multipart/byteranges, one part per range in the order asked', async () => {
    const put = await request(`${u}/reads/r/f.bin`, { method: 'PUT', raw: '0123456789abcdef', headers: { 'content-type': 'application/x-thing' } });
    assert.equal(put.status, 201);
    const att = `${u}/reads/r/f.bin`;
    const etag = (await request(att)).headers.get('etag')!;
    const get = async (range: string, headers: Record<string, string> = {}) => {
      const res = await fetch(att, { headers: { range, ...headers } });
      return { status: res.status, headers: res.headers, text: await res.text() };
    };

    const two = await get('bytes=0-1,5-6');
    assert.equal(two.status, 206);
    const boundary = /^multipart\/byteranges; boundary="([^"]+)"$/.exec(two.headers.get('content-type')!)?.[1];
    assert.ok(boundary, two.headers.get('content-type')!);
    const part = (type: string, range: string, bytes: string) => `\r\nContent-Type: ${type}\r\nContent-Range: bytes ${range}\r\n\r\n${bytes}\r\n--${boundary}`;
    assert.equal(two.text, `--${boundary}${part('application/x-thing', '0-1/16', '01')}${part('application/x-thing', '5-6/16', '56')}--`);
    assert.equal(Number(two.headers.get('content-length')), Buffer.byteLength(two.text));
    assert.equal(two.headers.get('content-range'), null);
    assert.equal(two.headers.get('etag'), etag);
    assert.equal(two.headers.get('content-security-policy'), 'sandbox');

    // Suffixes, open ends and ends past the last byte, in the order asked, overlaps kept.
    const mixed = await get('bytes=-3, 2-4,14-,10-99');
    const bodies = [...mixed.text.matchAll(/Content-Range: bytes (\S+)\r\n\r\n([^\r]*)\r\n/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(bodies, [['13-15/16', 'def'], ['2-4/16', '234'], ['14-15/16', 'ef'], ['10-15/16', 'abcdef']]);

    // One satisfiable range left is a plain 206; none, a 416.
    const one = await get('bytes=2-3,100-200');
    assert.equal(one.status, 206);
    assert.equal(one.headers.get('content-range'), 'bytes 2-3/16');
    assert.equal(one.text, '23');
    for (const range of ['bytes=100-,200-300', 'bytes=5-3,1-2', 'bytes=-0,16-']) {
      const none = await get(range);
      assert.equal(none.status, 416, range);
      assert.equal(none.headers.get('content-range'), 'bytes */16', range);
    }
    // What CouchDB answers with the whole attachment: a 0- among them, ten ranges or more, bad syntax, a stale If-Range.
    const tenRanges = `bytes=${Array.from({ length: 10 }, (_, i) => `${i}-${i}`).join(',')}`;
    for (const [range, headers] of [['bytes=0-,5-6', {}], [tenRanges, {}], ['bytes=1-2,x-3', {}], ['bytes=1-2,5-6', { 'if-range': '"other"' }]] as const) {
      const whole = await get(range, headers);
      assert.equal(whole.status, 200, range);
      assert.equal(whole.text, '0123456789abcdef', range);
    }
    assert.equal((await get(tenRanges.replace(',9-9', ''))).status, 206);
    const same = await get('bytes=1-2,5-6', { 'if-range': etag });
    assert.equal(same.status, 206);

    const head = await fetch(att, { method: 'HEAD', headers: { range: 'bytes=0-1,5-6' } });
    assert.equal(head.status, 206);
    assert.match(head.headers.get('content-type')!, /^multipart\/byteranges/);
  });

  test("HEAD on an attachment answers GET's headers without reading its bytes", async () => {
    const data = 'x'.repeat(100_000);
    assert.equal((await request(`${u}/reads/h/big.txt`, { method: 'PUT', raw: data, headers: { 'content-type': 'text/plain' } })).status, 201);
    const att = `${u}/reads/h/big.txt`;
    const got = await fetch(att);
    await got.text();
    const blobs = server.node.blobs;
    const read = blobs.get.bind(blobs);
    let reads = 0;
    // Counts the reads begun: a read opens nothing until it is iterated.
    blobs.get = (async (...args: Parameters<typeof read>) => {
      const r = await read(...args);
      const iterate = r[Symbol.asyncIterator].bind(r);
      r[Symbol.asyncIterator] = () => (reads++, iterate());
      return r;
    }) as typeof blobs.get;
    try {
      for (const headers of [{}, { range: 'bytes=10-19' }, { range: 'bytes=0-1,5-6' }] as Array<Record<string, string>>) {
        const head = await fetch(att, { method: 'HEAD', headers });
        assert.equal(await head.text(), '');
        const get = await fetch(att, { headers });
        await get.text();
        // A multipart answer's boundary is drawn for each.
        const type = (res: Response) => res.headers.get('content-type')?.replace(/boundary="[^"]+"/, 'boundary');
        assert.equal(type(head), type(get));
        for (const name of ['content-length', 'etag', 'content-range']) assert.equal(head.headers.get(name), get.headers.get(name), `${JSON.stringify(headers)} ${name}`);
      }
      assert.ok(reads > 0, 'the GETs read the bytes');
      const afterGets = reads;
      await (await fetch(att, { method: 'HEAD' })).text();
      assert.equal(reads, afterGets, 'no byte read for a HEAD');
    } finally {
      blobs.get = read;
    }
  });
});
