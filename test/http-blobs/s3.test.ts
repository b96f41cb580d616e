// A node whose blobs live in S3, configured as `refuge start` is (REFUGE_BLOB_* settings), serving
// the blob API: PUT, GET with a Range, enumeration and a resumable upload, against s3rver.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSettings } from '../../src/cli/config.ts';
import { blobOptions } from '../../src/cli/start.ts';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { startS3Server, type S3Server } from '../blobs/s3-server.ts';
import { MiB, idOf, randomBytesOf, req } from './helpers.ts';

let s3: S3Server | undefined;
let startError: unknown;
try {
  s3 = await startS3Server();
} catch (err) {
  startError = err;
}

test('the blob API on an S3-backed node (settings from REFUGE_BLOB_* variables)', { skip: s3 ? false : `no S3 server: ${String(startError)}` }, async () => {
  const server3 = s3!;
  const dataDir = await mkdtemp(join(tmpdir(), 'refuge-http-blobs-s3-'));
  try {
    const settings = loadSettings(
      { data: dataDir, engine: 'memory' },
      {
        REFUGE_BLOB_BACKEND: 's3',
        REFUGE_BLOB_S3_ENDPOINT: server3.endpoint,
        REFUGE_BLOB_S3_BUCKET: server3.bucket,
        REFUGE_BLOB_S3_REGION: server3.region,
        REFUGE_BLOB_S3_PREFIX: `http-${process.pid}-${Date.now()}/`,
        REFUGE_BLOB_S3_ACCESS_KEY_ID: server3.credentials.accessKeyId,
        REFUGE_BLOB_S3_SECRET_ACCESS_KEY: server3.credentials.secretAccessKey,
        REFUGE_BLOB_LIMIT: String(64 * MiB),
      },
    );
    assert.equal(settings.blobLimit, 64 * MiB);
    const node = await openNode({ dataDir, engine: settings.engine, durability: 'fast', blobs: blobOptions(settings) });
    assert.equal(node.blobs.backend, 's3');
    const server = await startServer({ node, port: 0, replicator: false, blobLimit: settings.blobLimit });
    try {
      const data = randomBytesOf(6 * MiB + 3);
      const id = idOf(data);
      assert.equal((await req(server.port, 'PUT', `/_blobs/${id}`, { body: data })).status, 201);
      const ranged = await req(server.port, 'GET', `/_blobs/${id}`, { headers: { range: 'bytes=-5' } });
      assert.equal(ranged.status, 206);
      assert.ok(ranged.body.equals(data.subarray(data.length - 5)));
      assert.ok((await req(server.port, 'GET', `/_blobs/${id}`)).body.equals(data));
      const up = await req(server.port, 'POST', '/_blobs/_uploads');
      const small = randomBytesOf(1000);
      await req(server.port, 'PATCH', `/_blobs/_uploads/${up.json.upload}`, { body: small, headers: { 'upload-offset': '0' } });
      assert.equal((await req(server.port, 'PUT', `/_blobs/_uploads/${up.json.upload}?id=${idOf(small)}`)).status, 201);
      assert.deepEqual((await req(server.port, 'GET', '/_blobs')).json.ids, [id, idOf(small)].sort());
    } finally {
      await server.close();
      await node.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await server3.stop();
  }
});

test('the s3 backend without a bucket is refused at start', () => {
  const settings = loadSettings({ data: '/nonexistent-refuge-dir' }, { REFUGE_BLOB_BACKEND: 's3' });
  assert.throws(() => blobOptions(settings), /bucket/);
  assert.throws(() => loadSettings({ data: '/nonexistent-refuge-dir' }, { REFUGE_BLOB_BACKEND: 'ftp' }), /REFUGE_BLOB_BACKEND must be fs, memory or s3/);
});
