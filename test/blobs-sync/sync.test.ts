// syncBlobs between stores in-process: one-shot memory→fs, restart after a cancel copies only the
// rest, continuous following, additive by default (mirrorDeletes opt-in), corrupt sources refused.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FsBlobStore, MemoryBlobStore, type BlobStore } from '../../src/blobs/index.ts';
import { syncBlobs, type SyncProgress } from '../../src/blobs/sync.ts';
import { countingStore, fill, memory, waitForIds } from './helpers.ts';

const list = async (s: BlobStore) => {
  const out: string[] = [];
  let after: `sha256-${string}` | undefined;
  do {
    const p = await s.list(after ? { after } : {});
    out.push(...p.ids);
    after = p.next;
  } while (after);
  return out;
};

describe('syncBlobs in-process', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const fsStore = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'refuge-sync-'));
    dirs.push(dir);
    return FsBlobStore.open({ dir, durability: 'fast' });
  };

  test('memory → fs one-shot copies everything, then a rerun copies nothing', async () => {
    const src = memory();
    const dst = await fsStore();
    const ids = await fill(src, 120, 'one-shot');
    const events: SyncProgress[] = [];
    const r = await syncBlobs(src, dst, { pageSize: 50, onProgress: (p) => events.push(p) });
    assert.deepEqual([r.listed, r.missing, r.copied, r.errors], [120, 120, 120, 0]);
    assert.ok(r.bytes > 0);
    assert.deepEqual(await list(dst), ids);
    assert.equal(events.at(-1)!.phase, 'done');
    for (const id of ids) assert.equal((await dst.verify(id)).status, 'ok');
    const again = await syncBlobs(src, dst);
    assert.deepEqual([again.listed, again.missing, again.copied], [120, 0, 0]);
    await Promise.all([src.close(), dst.close()]);
  });

  test('a sync cancelled mid-way, rerun, copies only what is still missing', async () => {
    const src = memory();
    const dst = memory();
    const ids = await fill(src, 40, 'restart');
    const ac = new AbortController();
    const first = countingStore(dst, { beforePut: (n) => void (n === 15 && ac.abort(new Error('cancelled'))) });
    await assert.rejects(syncBlobs(src, first.store, { signal: ac.signal, concurrency: 2, pageSize: 10 }), /cancelled/);
    const have = (await list(dst)).length;
    assert.ok(have >= 10 && have < 40, `copied ${have} before the cancel`);
    const second = countingStore(dst);
    const r = await syncBlobs(src, second.store, { pageSize: 10 });
    assert.equal(second.puts, 40 - have, 'the rerun puts exactly the missing blobs');
    assert.equal(r.copied, 40 - have);
    assert.deepEqual(await list(dst), ids);
    await Promise.all([src.close(), dst.close()]);
  });

  test('continuous: copies the existing blobs, then follows new ones; deletions stay (additive)', async () => {
    const src = memory();
    const dst = memory();
    const ids = await fill(src, 5, 'before');
    const ac = new AbortController();
    let following!: () => void;
    const follow = new Promise<void>((r) => (following = r));
    const run = syncBlobs(src, dst, { continuous: true, signal: ac.signal, onProgress: (p) => p.phase === 'follow' && following() });
    await follow;
    assert.deepEqual(await list(dst), ids);
    const more = await fill(src, 7, 'after');
    await waitForIds(dst, more);
    await src.delete(ids[0]!);
    const later = await fill(src, 1, 'later');
    await waitForIds(dst, later);
    assert.equal(await dst.has(ids[0]!), true, 'a blob removed at the source stays on the target');
    ac.abort();
    const r = await run;
    assert.equal(r.copied, 13);
    assert.equal(r.deleted, 0);
    await Promise.all([src.close(), dst.close()]);
  });

  test('continuous with mirrorDeletes removes on the target what the source removed', async () => {
    const src = memory();
    const dst = memory();
    const ac = new AbortController();
    let following!: () => void;
    const follow = new Promise<void>((r) => (following = r));
    const run = syncBlobs(src, dst, { continuous: true, mirrorDeletes: true, signal: ac.signal, onProgress: (p) => p.phase === 'follow' && following() });
    await follow;
    const ids = await fill(src, 3, 'mirror');
    await waitForIds(dst, ids);
    const removed = new Promise<void>(async (resolve) => {
      for await (const ev of dst.subscribe({ signal: ac.signal })) if (ev.type === 'removed') return resolve();
    });
    await src.delete(ids[1]!);
    await removed;
    assert.equal(await dst.has(ids[1]!), false);
    ac.abort();
    assert.equal((await run).deleted, 1);
    await Promise.all([src.close(), dst.close()]);
  });

  test('a corrupt source blob is reported as an error and never reaches the target', async () => {
    const src = new MemoryBlobStore();
    const dst = memory();
    const ids = await fill(src, 6, 'corrupt');
    src.corruptForTesting(ids[2]!, 3);
    const failures: unknown[] = [];
    const r = await syncBlobs(src, dst, { onProgress: (p) => p.failure && failures.push(p.failure) });
    assert.equal(r.errors, 1);
    assert.equal(r.copied, 5);
    assert.equal(r.failures[0]!.id, ids[2]);
    assert.equal((r.failures[0]!.error as { code?: string }).code, 'hash_mismatch');
    assert.equal(failures.length, 1);
    assert.equal(await dst.has(ids[2]!), false);
    await Promise.all([src.close(), dst.close()]);
  });
});
