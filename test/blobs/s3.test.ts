// The S3 backend against the shared blob conformance suite, on a real S3 server this file starts
// (s3rver in a child process, see s3-server.ts); each store gets its own key prefix in one bucket.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { openS3BlobStore, type S3BlobStore, type S3BlobStoreOptions } from '../../src/blobs/index.ts';
import type { BlobId, BlobStore } from '../../src/blobs/index.ts';
import { runBlobConformance } from './conformance.ts';
import { bytes, idOf, isCode, readAll, trickle, unevenChunks } from './helpers.ts';
import { startS3Server, type S3Server } from './s3-server.ts';

// The SDK warns once per process that its releases after January 2027 need Node 22 (we run Node 20).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

let server: S3Server | undefined;
let startError: unknown;
try {
  server = await startS3Server();
  console.log(`# S3 blob tests against ${server.description}`);
} catch (err) {
  startError = err;
}

if (!server) {
  const reason = `no S3 server could be started: ${startError instanceof Error ? startError.message : String(startError)}`;
  console.log(`# SKIPPING the S3 blob tests: ${reason}`);
  test('S3 blob store conformance', { skip: reason }, () => {});
} else {
  const s3 = server;
  after(() => s3.stop());
  let n = 0;
  const run = `run-${process.pid}-${Date.now()}`;
  const options = (prefix: string): S3BlobStoreOptions => ({
    bucket: s3.bucket,
    prefix,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: s3.credentials,
  });
  const fresh = () => openS3BlobStore(options(`${run}/store-${n++}/`));

  /** Overwrites the blob's object with the same bytes but one flipped, straight through S3. */
  async function corrupt(store: BlobStore, id: BlobId, offset: number): Promise<void> {
    const s = store as S3BlobStore;
    const data = Buffer.from(await readAll(await s.get(id)));
    data[offset]! ^= 0xff;
    await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: s.keyOf(id), Body: data }));
  }

  runBlobConformance('s3', {
    persistent: true,
    open: fresh,
    reopen: (store) => openS3BlobStore(options((store as S3BlobStore).prefix)),
    corrupt,
    // s3rver takes ~6 ms per PutObject and walks the prefix's every object on disk for each list
    // page: 150 blobs still make 22 pages of 7 (500 took 14 s of the suite).
    manyBlobs: 150,
  });

  describe('s3 blob store', () => {
    let store: S3BlobStore;
    let client: S3Client;
    before(async () => {
      store = await fresh();
      client = store.client;
    });
    after(() => store.close());

    const keys = async (prefix: string) =>
      ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!);

    test('blobs are objects at <prefix>blobs/<id>; uploads leave no temp objects behind', async () => {
      const small = await store.put(bytes('object'));
      const large = await store.put(trickle(unevenChunks(20 * 1024 * 1024)));
      await assert.rejects(store.put(trickle(unevenChunks(20 * 1024 * 1024)), { expectedId: idOf(bytes('x')) }), isCode('hash_mismatch'));
      assert.deepEqual((await keys(store.prefix)).sort(), [store.keyOf(small.id), store.keyOf(large.id)].sort());
    });

    test('stale temp objects of crashed uploads are deleted at open', async () => {
      const prefix = `${run}/crashed/`;
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}tmp/0-leftover`, Body: bytes('partial') }));
      const reopened = await openS3BlobStore({ ...options(prefix), staleTempMs: 0 });
      assert.deepEqual(await keys(`${prefix}tmp/`), []);
      await reopened.close();
    });

    test('a missing bucket or an unreachable server fails open with a clear error', async () => {
      await assert.rejects(openS3BlobStore({ ...options('x/'), bucket: 'no-such-bucket' }), isCode('unavailable'));
      const created = await openS3BlobStore({ ...options('x/'), bucket: 'made-on-open', createBucket: true });
      assert.equal((await created.put(bytes('in a new bucket'))).created, true);
      await created.close();
      // Port 1 on loopback: nothing listens there.
      await assert.rejects(openS3BlobStore({ ...options('x/'), endpoint: 'http://127.0.0.1:1', maxAttempts: 1 }), isCode('unavailable'));
      await assert.rejects(openS3BlobStore({ ...options('x/'), partSize: 1024 }), isCode('bad_request'));
    });
  });
}
