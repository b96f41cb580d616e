// 64 MiB through the HTTP API both ways, streamed (chunked upload from a generator, download hashed
// as it arrives), on the filesystem backend; a ranged read deep inside the big blob.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { MiB, randomBytesOf, req, startBlobServer } from './helpers.ts';

const SIZE = 64 * MiB;

/** Deterministic content: a 1 MiB random block repeated with the block number stamped in. */
function* content(block: Buffer): Generator<Buffer> {
  for (let i = 0; i < SIZE / MiB; i++) {
    const b = Buffer.from(block);
    b.writeUInt32BE(i, 0);
    yield b;
  }
}

function streamUp(port: number, method: string, path: string, chunks: Iterable<Buffer>): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/octet-stream' }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
    });
    r.on('error', reject);
    const it = chunks[Symbol.iterator]();
    const pump = () => {
      for (;;) {
        const next = it.next();
        if (next.done) return void r.end();
        if (!r.write(next.value)) return void r.once('drain', pump);
      }
    };
    pump();
  });
}

function streamDown(port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; hash: string; size: number }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const h = createHash('sha256');
        let size = 0;
        res.on('data', (c: Buffer) => {
          h.update(c);
          size += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, hash: h.digest('hex'), size }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

test('a 64 MiB blob streams up (PUT and POST) and down with its hash intact', async () => {
  const s = await startBlobServer();
  try {
    const block = randomBytesOf(MiB);
    const h = createHash('sha256');
    for (const b of content(block)) h.update(b);
    const id = `sha256-${h.digest('hex')}` as const;

    const put = await streamUp(s.port, 'PUT', `/_blobs/${id}`, content(block));
    assert.equal(put.status, 201);
    assert.deepEqual(put.json, { ok: true, id, size: SIZE });
    const post = await streamUp(s.port, 'POST', '/_blobs', content(block));
    assert.equal(post.status, 200);
    assert.equal(post.json.id, id);

    const got = await streamDown(s.port, `/_blobs/${id}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-length'], String(SIZE));
    assert.equal(got.size, SIZE);
    assert.equal(`sha256-${got.hash}`, id);

    // A range in the middle, across a block boundary.
    const start = 37 * MiB - 10;
    const r = await req(s.port, 'GET', `/_blobs/${id}`, { headers: { range: `bytes=${start}-${start + 19}` } });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes ${start}-${start + 19}/${SIZE}`);
    const expected = Buffer.concat([block.subarray(MiB - 10), block.subarray(0, 10)]);
    expected.writeUInt32BE(37, 10);
    assert.ok(r.body.equals(expected));
  } finally {
    await s.close();
  }
});
