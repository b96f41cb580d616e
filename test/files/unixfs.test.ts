// UnixFS trees Refuge writes are read back byte-identical by an independent implementation
// (ipfs-unixfs-exporter over our BlobStore) and by our own exporter; directories list the same.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exporter } from 'ipfs-unixfs-exporter';
import { MemoryBlobStore, collectBytes } from '../../src/blobs/core.ts';
import { nodeSha256 } from '../../src/blobs/hash-node.ts';
import { BlockWriter } from '../../src/files/block-writer.ts';
import { DAG_PB_CODEC, RAW_CODEC } from '../../src/files/blocks.ts';
import { listDirectory, readFile, statEntry, walkTree } from '../../src/files/export.ts';
import { importFile, writeDirectory, writeSymlink, MAX_LINKS } from '../../src/files/unixfs.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { KiB, MiB, blockstoreOver, equalBytes, pieces, seededBytes } from './helpers.ts';

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const newStore = () => new MemoryBlobStore({ hasher: nodeSha256 });

test('files of many sizes read back identical through ipfs-unixfs-exporter and our reader', async () => {
  const store = newStore();
  const writer = new BlockWriter(store);
  const bs = blockstoreOver(store);
  for (const [size, seed] of [[0, 1], [1, 2], [MiB + 1, 3], [20 * MiB + 333, 4]] as const) {
    const data = seededBytes(size, seed);
    const file = await importFile(writer, pieces(data, 100 * KiB), { mode: 0o640, mtime: { secs: 1_700_000_000n, nsecs: 5 } });
    await writer.flush();
    assert.equal(file.size, size);
    assert.equal(file.cid.code, DAG_PB_CODEC);
    const entry = await exporter(file.cid, bs);
    assert.equal(entry.type, 'file');
    assert.equal(Number(entry.size), size);
    if (entry.type === 'file') {
      assert.equal(entry.unixfs.mode, 0o640);
      assert.equal(entry.unixfs.mtime?.secs, 1_700_000_000n);
    }
    const theirs = Buffer.concat(await all(entry.content()));
    assert.ok(equalBytes(theirs, data), `exporter bytes of a ${size}-byte file`);
    const ours = await collectBytes(readFile(store, file.cid));
    assert.ok(equalBytes(ours, data), `our bytes of a ${size}-byte file`);
    const stat = await statEntry(store, file.cid);
    assert.deepEqual([stat.type, stat.size, stat.mode, stat.mtime?.nsecs], ['file', size, 0o640, 5]);
  }
});

test('without metadata a one-chunk file is its raw leaf; deep trees stay balanced', async () => {
  const store = newStore();
  const writer = new BlockWriter(store);
  const small = await importFile(writer, [seededBytes(1000, 5)]);
  assert.equal(small.cid.code, RAW_CODEC);
  const empty = await importFile(writer, []);
  assert.equal(empty.cid.code, RAW_CODEC);
  // Tiny chunks force more than MAX_LINKS leaves: two levels of file nodes.
  const data = seededBytes(MAX_LINKS * 2 * 256 + 77, 6);
  const chunking = { minSize: 64, avgSize: 128, maxSize: 256 };
  const big = await importFile(writer, pieces(data, 999), { chunking });
  await writer.flush();
  const entry = await exporter(big.cid, blockstoreOver(store));
  assert.ok(entry.type === 'file');
  assert.ok(equalBytes(Buffer.concat(await all(entry.content())), data));
  assert.ok(equalBytes(await collectBytes(readFile(store, big.cid)), data));
  assert.equal((await collectBytes(readFile(store, small.cid))).length, 1000);
  assert.equal((await collectBytes(readFile(store, empty.cid))).length, 0);
});

test('directories with named links, subfolders and symlinks list the same through the exporter', async () => {
  const store = newStore();
  const writer = new BlockWriter(store);
  const a = await importFile(writer, [seededBytes(3000, 8)], { mode: 0o600 });
  const b = await importFile(writer, [seededBytes(10, 9)]);
  const link = await writeSymlink(writer, '../a.txt');
  const sub = await writeDirectory(writer, [{ name: 'b.bin', cid: b.cid, tsize: b.tsize }, { name: 'to-a', cid: link.cid, tsize: link.tsize }], { mode: 0o700 });
  const root = await writeDirectory(writer, [
    { name: 'sub', cid: sub.cid, tsize: sub.tsize },
    { name: 'a.txt', cid: a.cid, tsize: a.tsize },
  ], { mtime: { secs: 1_600_000_000n } });
  await writer.flush();
  const bs = blockstoreOver(store);
  const dir = await exporter(root.cid, bs);
  assert.equal(dir.type, 'directory');
  assert.ok(dir.type === 'directory');
  const names = [];
  for await (const e of dir.entries()) names.push([e.name, (await exporter(e.cid, bs)).type]);
  assert.deepEqual(names, [['a.txt', 'file'], ['sub', 'directory']]);
  const deep = await exporter(`${root.cid.toString()}/sub/to-a`, bs);
  // The exporter reports a symlink as a UnixFS 'file'-kind entry whose unixfs type is 'symlink'.
  assert.equal(deep.type === 'file' && deep.unixfs.type, 'symlink');
  const viaPath = await exporter(`${root.cid.toString()}/sub/b.bin`, bs);
  assert.ok(viaPath.type === 'raw');
  assert.ok(equalBytes(Buffer.concat(await all(viaPath.content())), seededBytes(10, 9)));

  assert.deepEqual((await listDirectory(store, root.cid)).map((l) => l.name), ['a.txt', 'sub']);
  const walked = (await all(walkTree(store, root.cid))).map((e) => [e.path, e.type, e.mode, e.target]);
  assert.deepEqual(walked, [
    ['', 'directory', 0o755, undefined],
    ['a.txt', 'file', 0o600, undefined],
    ['sub', 'directory', 0o700, undefined],
    ['sub/b.bin', 'file', undefined, undefined],
    ['sub/to-a', 'symlink', undefined, '../a.txt'],
  ]);
  await assert.rejects(writeDirectory(writer, [{ name: '..', cid: a.cid, tsize: 1 }]), (e: unknown) => isRefugeError(e, 'bad_request'));
  await assert.rejects(writeDirectory(writer, [{ name: 'x/y', cid: a.cid, tsize: 1 }]), (e: unknown) => isRefugeError(e, 'bad_request'));
  await assert.rejects(collectBytes(readFile(store, root.cid)), (e: unknown) => isRefugeError(e, 'bad_request'));
});

test('a corrupted leaf fails the read instead of returning wrong bytes', async () => {
  const store = newStore();
  const writer = new BlockWriter(store);
  const data = seededBytes(3 * MiB, 12);
  const file = await importFile(writer, pieces(data));
  await writer.flush();
  const { ids } = await store.list();
  store.corruptForTesting(ids[0]!, 10);
  await assert.rejects(collectBytes(readFile(store, file.cid)), (e: unknown) => isRefugeError(e, 'hash_mismatch'));
});
