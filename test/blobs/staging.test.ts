// The staging area of partial blobs (resumable HTTP uploads, cut mesh transfers): appends kept when
// their source breaks off, finish verifies everything staged into the store, expiry and sweeping.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStaging, MemoryBlobStore, collectBytes } from '../../src/blobs/index.ts';
import { RefugeError } from '../../src/errors/index.ts';
import { idOf, isCode, randomBytesOf } from './helpers.ts';

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'refuge-staging-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A body that yields `chunks`, then breaks off as a closed connection does. */
async function* cutAfter(chunks: Uint8Array[], error: Error): AsyncGenerator<Uint8Array> {
  yield* chunks;
  throw error;
}

test('appends are kept when their source breaks off; finish verifies all staged bytes into the store, then forgets them', async (t) => {
  const dir = await scratch(t);
  const staging = await BlobStaging.open({ dir });
  const store = new MemoryBlobStore();
  const data = randomBytesOf(3 * 1024 * 1024 + 5);
  const id = idOf(data);
  const key = id;
  assert.equal(await staging.find(key), null);
  const made = await staging.create(key, { size: data.length });
  assert.deepEqual([made.offset, made.meta], [0, { size: data.length }]);
  await assert.rejects(staging.create(key), isCode('conflict'));

  const gone = new Error('connection reset');
  const first = await staging.append(key, 0, cutAfter([data.subarray(0, 1000), data.subarray(1000, 1_500_000)], gone));
  assert.deepEqual(first, { offset: 1_500_000, aborted: true, cause: gone });
  assert.equal((await staging.info(key)).offset, 1_500_000);
  await assert.rejects(staging.append(key, 0, [data]), isCode('conflict'));
  // Reopened (a restart), the entry and its meta are still there.
  const again = await BlobStaging.open({ dir });
  assert.deepEqual((await again.info(key)).meta, { size: data.length });
  assert.deepEqual(await again.append(key, 1_500_000, [data.subarray(1_500_000)]), { offset: data.length, aborted: false });

  assert.deepEqual(await again.finish(key, store, { expectedId: id }), { id, size: data.length, created: true });
  assert.deepEqual(await collectBytes(await store.get(id)), data);
  assert.equal(await again.find(key), null);
  assert.deepEqual(await readdir(dir), []);
});

test('a mismatch keeps the entry unless asked to discard it; a RefugeError of the body is thrown once what came is kept', async (t) => {
  const staging = await BlobStaging.open({ dir: await scratch(t), maxSize: 10 });
  const store = new MemoryBlobStore();
  const claimed = idOf(new TextEncoder().encode('the real one'));
  await staging.create('k1');
  await staging.append('k1', 0, [new TextEncoder().encode('forged')]);
  await assert.rejects(staging.finish('k1', store, { expectedId: claimed }), isCode('hash_mismatch'));
  assert.equal((await staging.info('k1')).offset, 6, 'kept: an upload may still be fixed');
  await assert.rejects(staging.finish('k1', store, { expectedId: claimed, discardOnMismatch: true }), isCode('hash_mismatch'));
  assert.equal(await staging.find('k1'), null);
  assert.deepEqual((await store.list()).ids, []);

  await staging.create('k2');
  const refused = new RefugeError('hash_mismatch', 'the peer sent more than it announced');
  await assert.rejects(staging.append('k2', 0, cutAfter([new Uint8Array(4)], refused)), isCode('hash_mismatch'));
  assert.equal((await staging.info('k2')).offset, 4);
  await assert.rejects(staging.append('k2', 4, [new Uint8Array(7)]), isCode('too_large'));
  assert.equal(await staging.discard('k2'), true);
  assert.equal(await staging.discard('k2'), false);
});

test('entries expire: gone when looked at, swept at open and by a later create; strays are swept too', async (t) => {
  const dir = await scratch(t);
  let now = 1_000_000;
  const ttlMs = 60_000;
  const staging = await BlobStaging.open({ dir, ttlMs, now: () => now });
  await staging.create('old');
  await staging.append('old', 0, [new Uint8Array(100)]);
  await staging.create('older');
  await writeFile(join(dir, 'stray.data'), 'no record'); // a crash between the two files of a create
  now += ttlMs;
  assert.equal(await staging.find('old'), null, 'expired when looked at');
  assert.deepEqual((await readdir(dir)).sort(), ['older.data', 'older.json', 'stray.data']);
  // A create once a sweep is due removes every expired entry and stray, not only the one it names.
  await staging.create('new');
  assert.deepEqual((await readdir(dir)).sort(), ['new.data', 'new.json']);
  // Opening sweeps as well.
  now += ttlMs;
  await BlobStaging.open({ dir, ttlMs, now: () => now });
  assert.deepEqual(await readdir(dir), []);
});

test('keys name files inside the staging directory only', async (t) => {
  const staging = await BlobStaging.open({ dir: await scratch(t), label: 'partial blob' });
  for (const key of ['../escape', 'a/b', '', 'UPPER', '.hidden']) {
    await assert.rejects(staging.create(key), isCode('not_found'));
    await assert.rejects(staging.info(key), isCode('not_found'));
  }
  const temp = await BlobStaging.open();
  await temp.create('x');
  await temp.close();
  await assert.rejects(readdir(temp.dir), { code: 'ENOENT' });
});

test('a write that fails (out of space) is an error, not a client that went away', { skip: process.platform !== 'linux' && 'needs /dev/full' }, async (t) => {
  const dir = await scratch(t);
  const staging = await BlobStaging.open({ dir });
  const key = 'k1';
  await staging.create(key);
  // The staged bytes' file becomes /dev/full, where every write fails with ENOSPC.
  const files = (await readdir(dir)).filter((f) => !f.endsWith('.json'));
  assert.equal(files.length, 1, String(files));
  await rm(join(dir, files[0]!));
  await symlink('/dev/full', join(dir, files[0]!));
  const appending = staging.append(key, 0, [randomBytesOf(2 * 1024 * 1024)]);
  // Before: answered { aborted: true }, which the HTTP route sent as an empty 200.
  await assert.rejects(appending, (e: unknown) => e instanceof RefugeError && e.code === 'internal' && /out of space \(ENOSPC\)/.test(e.reason));
});
