// An attachment PUT with no body and no Content-Type stores an empty attachment of type
// application/octet-stream, as CouchDB's db_attachment_req does (Fastify parses nothing for it).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rawRequest } from './raw-http.ts';
import { request, startTestServer, type TestServer } from './server.ts';

describe('empty attachment uploads', () => {
  let server: TestServer;
  let port: number;
  before(async () => {
    server = await startTestServer();
    port = Number(new URL(server.url).port);
    assert.equal((await request(`${server.url}/e`, { method: 'PUT' })).status, 201);
  });
  after(() => server.close());

  for (const [label, headers] of [
    ['without a Content-Length', {}],
    ['with Content-Length: 0', { 'content-length': '0' }],
  ] as const) {
    test(`no body and no Content-Type, ${label}: an empty application/octet-stream attachment`, async () => {
      const id = label.startsWith('without') ? 'new1' : 'new2';
      const put = await rawRequest(port, { method: 'PUT', path: `/e/${id}/a.bin`, headers });
      assert.equal(put.status, 201, put.text);
      const body = JSON.parse(put.text) as { ok: boolean; id: string; rev: string };
      assert.equal(body.ok, true);
      assert.equal(body.id, id);
      const doc = await request(`${server.url}/e/${id}`);
      assert.deepEqual(
        { type: doc.body._attachments['a.bin'].content_type, length: doc.body._attachments['a.bin'].length },
        { type: 'application/octet-stream', length: 0 },
      );
      const read = await fetch(`${server.url}/e/${id}/a.bin`);
      assert.equal(read.status, 200);
      assert.equal((await read.arrayBuffer()).byteLength, 0);
    });
  }
});
