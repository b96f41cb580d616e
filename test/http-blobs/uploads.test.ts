// Resumable uploads: offsets, 409 on a wrong offset, a PATCH cut off half-way (what arrived is kept
// and fsynced), resuming from the offset the server reports, across a restart, mismatch and expiry.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PatchResult } from '../../src/http/blob-uploads.ts';
import { MiB, idOf, randomBytesOf, req, startBlobServer, type BlobServer } from './helpers.ts';

async function create(s: BlobServer): Promise<string> {
  const r = await req(s.port, 'POST', '/_blobs/_uploads');
  assert.equal(r.status, 201);
  assert.equal(r.json.offset, 0);
  assert.equal(r.headers.location, `/_blobs/_uploads/${r.json.upload}`);
  return r.json.upload;
}

const offsetOf = async (s: BlobServer, upload: string): Promise<number> => {
  const r = await req(s.port, 'HEAD', `/_blobs/_uploads/${upload}`);
  assert.equal(r.status, 200);
  return Number(r.headers['upload-offset']);
};

const patch = (s: BlobServer, upload: string, offset: number, body: Uint8Array, headers: Record<string, string> = {}, query = '') =>
  req(s.port, 'PATCH', `/_blobs/_uploads/${upload}${query}`, {
    body,
    headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...headers },
  });

/** Sends the headers of a PATCH for `total` bytes, then only `part`, waits until it left, and hangs up. */
async function cutPatch(s: BlobServer, upload: string, offset: number, total: number, part: Uint8Array): Promise<void> {
  const r = http.request({
    host: '127.0.0.1',
    port: s.port,
    method: 'PATCH',
    path: `/_blobs/_uploads/${upload}`,
    headers: { 'content-type': 'application/offset+octet-stream', 'content-length': String(total), 'upload-offset': String(offset) },
    agent: false,
  });
  r.on('error', () => undefined); // we are the ones hanging up
  await new Promise<void>((resolve, reject) => r.write(part, (err) => (err ? reject(err) : resolve())));
  r.destroy();
}

test('an upload in three PATCHes, finished with PUT ?id=', async () => {
  const s = await startBlobServer();
  try {
    const data = randomBytesOf(3 * MiB + 123);
    const id = idOf(data);
    const upload = await create(s);
    assert.equal(await offsetOf(s, upload), 0);
    const cuts = [0, 1 * MiB, 2 * MiB + 7, data.length];
    for (let i = 0; i < 3; i++) {
      const r = await patch(s, upload, cuts[i]!, data.subarray(cuts[i], cuts[i + 1]));
      assert.equal(r.status, 200);
      assert.equal(r.json.offset, cuts[i + 1]);
      assert.equal(r.headers['upload-offset'], String(cuts[i + 1]));
    }
    const info = await req(s.port, 'GET', `/_blobs/_uploads/${upload}`);
    assert.equal(info.json.offset, data.length);
    const done = await req(s.port, 'PUT', `/_blobs/_uploads/${upload}?id=${id}`);
    assert.equal(done.status, 201);
    assert.deepEqual(done.json, { ok: true, id, size: data.length });
    assert.ok((await req(s.port, 'GET', `/_blobs/${id}`)).body.equals(data));
    assert.equal((await req(s.port, 'HEAD', `/_blobs/_uploads/${upload}`)).status, 404);
    assert.equal(existsSync(join(s.dataDir, 'uploads', `${upload}.data`)), false);
  } finally {
    await s.close();
  }
});

test('a wrong Upload-Offset is a 409 that tells the right one; a missing one is a 400', async () => {
  const s = await startBlobServer({ engine: 'memory', blobs: { backend: 'memory' } });
  try {
    const upload = await create(s);
    assert.equal((await patch(s, upload, 0, randomBytesOf(100))).status, 200);
    const wrong = await patch(s, upload, 50, randomBytesOf(10));
    assert.equal(wrong.status, 409);
    assert.equal(wrong.json.error, 'conflict');
    assert.equal(wrong.headers['upload-offset'], '100');
    assert.equal(await offsetOf(s, upload), 100);
    const none = await req(s.port, 'PATCH', `/_blobs/_uploads/${upload}`, { body: 'x' });
    assert.equal(none.status, 400);
    for (const bad of ['nope', '..%2F..%2Fetc', '0'.repeat(32)]) {
      assert.equal((await req(s.port, 'HEAD', `/_blobs/_uploads/${bad}`)).status, 404, bad);
      assert.equal((await patch(s, bad, 0, randomBytesOf(1))).status, 404, bad);
    }
  } finally {
    await s.close();
  }
});

test('a PATCH cut off half-way keeps what arrived; the client resumes from the offset and finishes', async () => {
  const s = await startBlobServer();
  try {
    const data = randomBytesOf(8 * MiB + 5);
    const id = idOf(data);
    const upload = await create(s);
    const first = 3 * MiB + 17;
    const patched = once(s.blobs.uploads, 'patched') as Promise<[string, PatchResult]>;
    await cutPatch(s, upload, 0, data.length, data.subarray(0, first));
    const [which, result] = await patched;
    assert.equal(which, upload);
    assert.equal(result.aborted, true);
    assert.equal(result.offset, first);
    // The server reports exactly the bytes that reached it.
    const offset = await offsetOf(s, upload);
    assert.equal(offset, first);
    // Resume: the rest in one PATCH that also finishes the upload.
    const done = await patch(s, upload, offset, data.subarray(offset), { 'upload-complete': '?1' }, `?id=${id}`);
    assert.equal(done.status, 201);
    assert.deepEqual(done.json, { ok: true, id, size: data.length });
    const got = await req(s.port, 'GET', `/_blobs/${id}`);
    assert.equal(idOf(got.body), id);
    assert.ok(got.body.equals(data));
  } finally {
    await s.close();
  }
});

test('staged bytes survive a restart; expired uploads are removed at start', async () => {
  const s = await startBlobServer();
  const dataDir = s.dataDir;
  const data = randomBytesOf(2 * MiB);
  const id = idOf(data);
  let s2: BlobServer | undefined;
  let s3: BlobServer | undefined;
  try {
    const upload = await create(s);
    const stale = await create(s);
    assert.equal((await patch(s, upload, 0, data.subarray(0, MiB))).status, 200);
    await s.stop();
    s2 = await startBlobServer({ dataDir });
    assert.equal(await offsetOf(s2, upload), MiB);
    assert.equal((await patch(s2, upload, MiB, data.subarray(MiB))).status, 200);
    assert.equal((await req(s2.port, 'PUT', `/_blobs/_uploads/${upload}?id=${id}`)).status, 201);
    assert.ok((await req(s2.port, 'GET', `/_blobs/${id}`)).body.equals(data));
    assert.equal(await offsetOf(s2, stale), 0);
    await s2.stop();
    s3 = await startBlobServer({ dataDir, uploadTtlMs: 0 });
    assert.equal(existsSync(join(dataDir, 'uploads', `${stale}.json`)), false);
    assert.equal((await req(s3.port, 'HEAD', `/_blobs/_uploads/${stale}`)).status, 404);
  } finally {
    await s.stop();
    await s2?.stop();
    await s3?.close();
  }
});

test('finishing with the wrong id: 400 hash_mismatch, nothing stored, the upload is kept until DELETE', async () => {
  const s = await startBlobServer({ engine: 'memory', blobs: { backend: 'memory' } });
  try {
    const data = randomBytesOf(10_000);
    const upload = await create(s);
    assert.equal((await patch(s, upload, 0, data.subarray(0, 6000))).status, 200);
    // Claiming the whole blob's id before all bytes are in: refused, and the client can still resume.
    const early = await req(s.port, 'PUT', `/_blobs/_uploads/${upload}?id=${idOf(data)}`);
    assert.equal(early.status, 400);
    assert.equal(early.json.error, 'hash_mismatch');
    assert.equal(await s.node.blobs.has(idOf(data)), false);
    assert.equal(await s.node.blobs.has(idOf(data.subarray(0, 6000))), false);
    assert.equal(await offsetOf(s, upload), 6000);
    assert.equal((await patch(s, upload, 6000, data.subarray(6000))).status, 200);
    assert.equal((await req(s.port, 'PUT', `/_blobs/_uploads/${upload}`)).json.id, idOf(data)); // id computed
    const other = await create(s);
    assert.equal((await req(s.port, 'DELETE', `/_blobs/_uploads/${other}`)).status, 200);
    assert.equal((await req(s.port, 'DELETE', `/_blobs/_uploads/${other}`)).status, 404);
    assert.equal((await req(s.port, 'PUT', `/_blobs/_uploads/${other}`)).status, 404);
  } finally {
    await s.close();
  }
});

test('an upload cannot grow past the blob limit (413)', async () => {
  const s = await startBlobServer({ engine: 'memory', blobs: { backend: 'memory' }, blobLimit: 1000 });
  try {
    const upload = await create(s);
    assert.equal((await patch(s, upload, 0, randomBytesOf(600))).status, 200);
    const over = await patch(s, upload, 600, randomBytesOf(600));
    assert.equal(over.status, 413);
    assert.equal(await offsetOf(s, upload), 600);
    const chunked = await req(s.port, 'PATCH', `/_blobs/_uploads/${upload}`, {
      body: [randomBytesOf(300), randomBytesOf(300)],
      headers: { 'upload-offset': '600' },
    });
    assert.equal(chunked.status, 413);
  } finally {
    await s.close();
  }
});

test('a PATCH whose bytes cannot be written (out of space) is a 500 with the offset to resume from, not an empty 200', { skip: process.platform !== 'linux' && 'needs /dev/full' }, async () => {
  const s = await startBlobServer();
  try {
    const upload = await create(s);
    assert.equal((await patch(s, upload, 0, randomBytesOf(1000))).status, 200);
    // From here every write of the staged bytes fails with ENOSPC.
    const file = join(s.dataDir, 'uploads', `${upload}.data`);
    await rm(file);
    await symlink('/dev/full', file);
    const r = await patch(s, upload, 0, randomBytesOf(2 * MiB));
    assert.equal(r.status, 500);
    assert.equal(r.json.error, 'internal');
    assert.match(r.json.reason, /out of space \(ENOSPC\)/);
    assert.equal(r.headers['upload-offset'], '0');
  } finally {
    await s.close();
  }
});
