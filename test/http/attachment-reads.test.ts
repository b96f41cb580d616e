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
});
