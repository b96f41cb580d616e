// Snapshots of a folder tree restore byte-identical with modes and mtimes; a second snapshot after a
// 1% change stores little; refs keep the history; reachability covers exactly the trees' blobs.

import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readFile, readdir, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsBlobStore, MemoryBlobStore, type BlobId, type BlobStore } from '../../src/blobs/index.ts';
import { nodeSha256 } from '../../src/blobs/hash-node.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { createSnapshot, listSnapshots, reachableBlobs, restoreSnapshot, type SnapshotProgress } from '../../src/files/index.ts';
import { FsRefStore, generateNodeKey, MemoryRefStore } from '../../src/refs/index.ts';
import { KiB, MiB, seededBytes, withTempDir } from './helpers.ts';

async function allIds(store: BlobStore): Promise<BlobId[]> {
  const out: BlobId[] = [];
  let after: BlobId | undefined;
  for (;;) {
    const page = await store.list(after ? { after, limit: 1000 } : { limit: 1000 });
    out.push(...page.ids);
    if (!page.next) return out;
    after = page.next;
  }
}

async function storedBytes(store: BlobStore, ids: BlobId[]): Promise<number> {
  return (await store.stat(ids)).reduce((n, s) => n + (s?.size ?? 0), 0);
}

/** A tree of files (empty, small, multi-chunk), a nested folder, a symlink, odd modes and old mtimes. */
async function makeTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(dir, 'empty-dir'));
  await writeFile(join(dir, 'empty.txt'), '');
  await writeFile(join(dir, 'hello.txt'), 'hello, refuge\n');
  await writeFile(join(dir, 'sub', 'big.bin'), seededBytes(3 * MiB + 17, 21));
  await writeFile(join(dir, 'sub', 'deeper', 'mid.bin'), seededBytes(300 * KiB, 22));
  await writeFile(join(dir, 'sub', 'deeper', 'ünïcode name.txt'), 'x');
  await symlink('sub/big.bin', join(dir, 'link-to-big'));
  await chmod(join(dir, 'hello.txt'), 0o640);
  await chmod(join(dir, 'sub', 'big.bin'), 0o755);
  await chmod(join(dir, 'sub', 'deeper'), 0o750);
  const t = new Date('2020-02-03T04:05:06.789Z');
  for (const p of ['hello.txt', 'sub/big.bin', 'sub/deeper/mid.bin', 'sub/deeper', 'empty-dir']) await utimes(join(dir, p), t, t);
}

/** Asserts that `b` holds the same entries as `a`: bytes, modes, mtimes (to the microsecond), links. */
async function assertSameTree(a: string, b: string, rel = ''): Promise<void> {
  const sa = await lstat(join(a, rel));
  const sb = await lstat(join(b, rel));
  assert.equal(sb.mode, sa.mode, `mode of ${rel}`);
  if (sa.isSymbolicLink()) {
    assert.equal(await readlink(join(b, rel)), await readlink(join(a, rel)));
    return;
  }
  assert.ok(Math.abs(sb.mtimeMs - sa.mtimeMs) < 0.01, `mtime of ${rel}: ${sb.mtimeMs} vs ${sa.mtimeMs}`);
  if (sa.isDirectory()) {
    const na = (await readdir(join(a, rel))).sort();
    assert.deepEqual((await readdir(join(b, rel))).sort(), na, `entries of ${rel}`);
    for (const n of na) await assertSameTree(a, b, join(rel, n));
  } else {
    assert.ok((await readFile(join(a, rel))).equals(await readFile(join(b, rel))), `bytes of ${rel}`);
  }
}

test('snapshot a folder tree into an fs store and restore it identical, by root and by ref@seq', () =>
  withTempDir(async (tmp) => {
    const src = join(tmp, 'src');
    await mkdir(src);
    await makeTree(src);
    const store = await FsBlobStore.open({ dir: join(tmp, 'blobs'), durability: 'fast' });
    const refs = await FsRefStore.open(join(tmp, 'refs'));
    const key = generateNodeKey();
    const progress: SnapshotProgress[] = [];
    const snap = await createSnapshot(store, src, { ref: 'home', refs, key, onProgress: (p) => progress.push(p) });
    assert.equal(snap.files, 5);
    assert.equal(snap.bytes, 3 * MiB + 17 + 300 * KiB + 14 + 1);
    assert.deepEqual(snap.skipped, []);
    assert.equal(snap.ref?.seq, 1);
    const lastProgress = progress.at(-1)!;
    assert.ok(lastProgress.done && lastProgress.files === 5 && lastProgress.bytes === snap.bytes && lastProgress.rate > 0);

    await restoreSnapshot(store, snap.root, join(tmp, 'out1'));
    await assertSameTree(src, join(tmp, 'out1'));

    // Second snapshot after an edit; restoring home@1 still gives the first state.
    const before = await readFile(join(src, 'hello.txt'));
    await writeFile(join(src, 'hello.txt'), 'changed');
    const snap2 = await createSnapshot(store, src, { ref: 'home', refs, key });
    assert.equal(snap2.ref?.seq, 2);
    const listed = await listSnapshots(refs, 'home');
    assert.deepEqual(listed.map((s) => [s.seq, s.root, s.files]), [[1, snap.root, 5], [2, snap2.root, 5]]);
    assert.equal(listed[0]!.source, src);
    await restoreSnapshot(store, 'home', join(tmp, 'out2'), { refs });
    await assertSameTree(src, join(tmp, 'out2'));
    await restoreSnapshot(store, 'home@1', join(tmp, 'out3'), { refs });
    assert.ok((await readFile(join(tmp, 'out3', 'hello.txt'))).equals(before));

    // Refusals: a non-empty destination, an unknown ref, a ref without a ref store.
    await assert.rejects(restoreSnapshot(store, snap.root, join(tmp, 'out1')), (e: unknown) => isRefugeError(e, 'file_exists'));
    await assert.rejects(restoreSnapshot(store, 'nope@3', join(tmp, 'out4'), { refs }), (e: unknown) => isRefugeError(e, 'not_found'));
    await assert.rejects(restoreSnapshot(store, 'home', join(tmp, 'out5')), (e: unknown) => isRefugeError(e, 'bad_request'));

    // Reachability: both snapshots' trees are every blob in the store; one root alone is fewer.
    const ids = await allIds(store);
    const both = await reachableBlobs(store, [snap.root, snap2.root]);
    assert.deepEqual([...both.reachable].sort(), ids);
    assert.deepEqual(both.missing, []);
    const one = await reachableBlobs(store, [snap2.root]);
    assert.ok(one.reachable.size < ids.length);
    await store.delete([...one.reachable].sort()[0]!);
    assert.equal((await reachableBlobs(store, [snap2.root])).missing.length, 1);
    await store.close();
  }));

test('after changing 1% of a large file, the second snapshot stores under 5% new bytes', () =>
  withTempDir(async (tmp) => {
    const src = join(tmp, 'src');
    await mkdir(src);
    const size = 64 * MiB;
    const data = Buffer.from(seededBytes(size, 31));
    await writeFile(join(src, 'big.bin'), data);
    await writeFile(join(src, 'small.txt'), 'same');
    const store = new MemoryBlobStore({ hasher: nodeSha256 });
    const refs = new MemoryRefStore();
    const key = generateNodeKey();
    const first = await createSnapshot(store, src, { ref: 'r', refs, key });
    const idsBefore = new Set(await allIds(store));
    const bytesBefore = await storedBytes(store, [...idsBefore]);
    assert.ok(bytesBefore >= size && bytesBefore < size * 1.01);
    assert.equal(first.stats.newBytes, bytesBefore);
    // 1% of the bytes, in two runs: an overwrite and an insertion.
    const edited = data; // edited in place: no second copy of the file in memory
    const run = Math.floor(size / 100 / 2);
    seededBytes(run, 101).forEach((b, j) => (edited[11 * MiB + 333 + j] = b));
    await writeFile(join(src, 'big.bin'), Buffer.concat([edited.subarray(0, 43 * MiB), seededBytes(run, 102), edited.subarray(43 * MiB)]));
    const second = await createSnapshot(store, src, { ref: 'r', refs, key });
    const added = (await allIds(store)).filter((id) => !idsBefore.has(id));
    const newBytes = await storedBytes(store, added);
    assert.equal(second.stats.newBytes, newBytes);
    assert.ok(newBytes < size * 0.05, `stored ${newBytes} new bytes (${((100 * newBytes) / size).toFixed(2)}%)`);
    assert.ok(newBytes > size / 100);
    process.stderr.write(`[files] 1% edit of a ${size / MiB} MiB file: ${((100 * newBytes) / size).toFixed(2)}% new bytes\n`);
    await withTempDir(async (out) => {
      await restoreSnapshot(store, 'r', join(out, 'r'), { refs });
      assert.ok((await readFile(join(out, 'r', 'big.bin'))).equals(await readFile(join(src, 'big.bin'))));
    });
  }));

test('a store failing mid-snapshot fails the snapshot cleanly, and the ref does not move', () =>
  withTempDir(async (tmp) => {
    const src = join(tmp, 'src');
    await mkdir(join(src, 'a', 'b'), { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(join(src, i % 2 ? 'a' : join('a', 'b'), `f${i}.bin`), seededBytes(i % 3 ? 3000 : 200 * KiB, i + 1));
    await writeFile(join(src, 'big.bin'), seededBytes(3 * MiB, 99));
    const store = new MemoryBlobStore({ hasher: nodeSha256 });
    let puts = 0;
    const put = store.put.bind(store);
    store.put = async (source, options) => {
      if (++puts === 12) throw new Error('disk on fire');
      return put(source, options);
    };
    const refs = new MemoryRefStore();
    const key = generateNodeKey();
    await assert.rejects(createSnapshot(store, src, { ref: 'r', refs, key }), /disk on fire/);
    assert.equal(await refs.get('r'), null);
  }));
