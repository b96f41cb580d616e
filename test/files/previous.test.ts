// Re-snapshots take unchanged files over from the previous snapshot without reading them, and read
// again whatever changed, is too recent to trust, or lost a block; the trees stay identical.

import assert from 'node:assert/strict';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsBlobStore, type BlobId } from '../../src/blobs/index.ts';
import { blobIdOfCid, createSnapshot, listDirectory, parseRoot, reachableBlobs, restoreSnapshot } from '../../src/files/index.ts';
import { generateNodeKey, MemoryRefStore } from '../../src/refs/index.ts';
import { KiB, MiB, seededBytes, withTempDir } from './helpers.ts';

test('a re-snapshot takes unchanged files over unread; changed, recent or damaged ones are read again', () =>
  withTempDir(async (tmp) => {
    const src = join(tmp, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    const old = new Date('2021-05-06T07:08:09.123Z');
    await writeFile(join(src, 'a.bin'), seededBytes(600 * KiB, 1));
    await writeFile(join(src, 'b.bin'), seededBytes(2 * MiB + 5, 2));
    await writeFile(join(src, 'sub', 'c.bin'), seededBytes(700 * KiB, 3));
    await writeFile(join(src, 'small.txt'), 'small');
    await writeFile(join(src, 'future.bin'), seededBytes(300 * KiB, 4));
    for (const name of ['a.bin', 'b.bin', 'sub/c.bin', 'small.txt']) await utimes(join(src, name), old, old);
    // An mtime after the scan: never trusted (it may not move on the next write).
    const later = new Date(Date.now() + 3600_000);
    await utimes(join(src, 'future.bin'), later, later);

    const store = await FsBlobStore.open({ dir: join(tmp, 'blobs'), durability: 'fast' });
    const refs = new MemoryRefStore();
    const key = generateNodeKey();
    const first = await createSnapshot(store, src, { ref: 'r', refs, key });
    assert.equal(first.reused, 0);

    // Nothing changed: the three large old files are taken over (small ones are always read).
    const second = await createSnapshot(store, src, { ref: 'r', refs, key });
    assert.equal(second.reused, 3);
    assert.equal(second.root, first.root);
    assert.equal(second.bytes, first.bytes);
    assert.equal(second.stats.newBytes, 0);

    // a.bin changes (another mtime); one leaf of sub/c.bin vanishes from the store.
    await writeFile(join(src, 'a.bin'), seededBytes(600 * KiB, 9));
    const old2 = new Date('2022-01-02T03:04:05.678Z');
    await utimes(join(src, 'a.bin'), old2, old2);
    const sub = (await listDirectory(store, parseRoot(first.root))).find((l) => l.name === 'sub')!;
    const c = (await listDirectory(store, sub.cid)).find((l) => l.name === 'c.bin')!;
    const { reachable } = await reachableBlobs(store, [c.cid]);
    const leaf = [...reachable].find((id) => id !== blobIdOfCid(c.cid)) as BlobId;
    assert.ok(await store.delete(leaf));
    const third = await createSnapshot(store, src, { ref: 'r', refs, key });
    assert.equal(third.reused, 1, 'only b.bin');
    assert.ok(await store.has(leaf), 'the lost leaf was stored again');
    assert.deepEqual((await reachableBlobs(store, [third.root])).missing, []);
    await restoreSnapshot(store, third.root, join(tmp, 'out'));
    for (const name of ['a.bin', 'b.bin', 'sub/c.bin', 'small.txt', 'future.bin']) {
      assert.ok((await readFile(join(tmp, 'out', name))).equals(await readFile(join(src, name))), name);
    }

    // previous: false reads everything, and finds the same tree.
    const all = await createSnapshot(store, src, { previous: false });
    assert.equal(all.reused, 0);
    assert.equal(all.root, third.root);
    // An explicit previous works without refs; one of another folder matches nothing.
    const explicit = await createSnapshot(store, src, { previous: { root: third.root, startedAt: third.startedAt } });
    assert.equal(explicit.reused, 3);
    assert.equal(explicit.root, third.root);
    const elsewhere = await createSnapshot(store, join(src, 'sub'), { previous: { root: third.root, startedAt: third.startedAt } });
    assert.equal(elsewhere.reused, 0);
    await store.close();
  }));
