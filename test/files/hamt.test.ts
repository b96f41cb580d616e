// HAMT-sharded directories: a folder over the threshold is written as Kubo and Helia shard it — the
// same root CID as ipfs-unixfs-importer for the same entries, listed and looked up by path through
// ipfs-unixfs-exporter — and read back here (list, walk, snapshot and restore); malformed shards fail.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdir, mkdtemp, readFile as readFs, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnixFS } from 'ipfs-unixfs';
import { exporter } from 'ipfs-unixfs-exporter';
import { importer } from 'ipfs-unixfs-importer';
import { MemoryBlockstore } from 'blockstore-core';
import * as dagPb from '@ipld/dag-pb';
import { MemoryBlobStore } from '../../src/blobs/core.ts';
import { nodeSha256 } from '../../src/blobs/hash-node.ts';
import { BlockWriter } from '../../src/files/block-writer.ts';
import { DAG_PB_CODEC, RAW_CODEC, parseRoot, readBlock } from '../../src/files/blocks.ts';
import { listDirectory, statEntry } from '../../src/files/export.ts';
import { writeDirectory } from '../../src/files/unixfs.ts';
import { createSnapshot, restoreSnapshot } from '../../src/files/index.ts';
import { blockstoreOver, seededBytes } from './helpers.ts';

const newStore = () => new MemoryBlobStore({ hasher: nodeSha256 });

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('a big folder is a HAMT identical to ipfs-unixfs-importer\'s, readable by the exporter and here', async () => {
  const store = newStore();
  const writer = new BlockWriter(store);
  const count = 6000;
  // Small files as single raw leaves, so both sides link the very same children.
  const files = Array.from({ length: count }, (_, i) => ({ name: `photo-${String(i).padStart(5, '0')}.jpg`, bytes: seededBytes(40 + (i % 7), i + 1) }));
  const entries = [];
  for (const f of files) {
    const cid = await writer.write(f.bytes, RAW_CODEC);
    entries.push({ name: f.name, cid, tsize: f.bytes.length });
  }
  const dir = await writeDirectory(writer, entries);
  await writer.flush();
  const root = dagPb.decode(await readBlock(store, dir.cid));
  assert.equal(UnixFS.unmarshal(root.Data!).type, 'hamt-sharded-directory');

  // The importer, on the same bytes, shards the same folder to the same CID.
  const bs = blockstoreOver(store);
  let theirs: string | undefined;
  for await (const e of importer(files.map((f) => ({ path: `dir/${f.name}`, content: f.bytes })), new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })) {
    if (e.path === 'dir') theirs = e.cid.toString();
  }
  assert.equal(dir.cid.toString(), theirs);

  // The exporter lists it and finds entries by path (which needs the right hash buckets).
  const listed = await exporter(dir.cid, bs);
  assert.equal(listed.type, 'directory');
  assert.equal(listed.type === 'directory' ? (await all(listed.entries())).length : -1, count);
  const one = await exporter(`${dir.cid.toString()}/photo-04321.jpg`, bs);
  assert.equal(one.cid.toString(), entries[4321]!.cid.toString());

  // Here: listed whole, in name order; a directory to stat.
  const links = await listDirectory(store, dir.cid);
  assert.deepEqual(links.map((l) => l.name), files.map((f) => f.name));
  assert.equal(links[42]!.cid.toString(), entries[42]!.cid.toString());
  assert.equal((await statEntry(store, dir.cid)).type, 'directory');
  // Small folders stay flat.
  const small = await writeDirectory(writer, entries.slice(0, 10));
  assert.equal(UnixFS.unmarshal(dagPb.decode(await readBlock(store, small.cid)).Data!).type, 'directory');
});

test('snapshot and restore through sharded folders (a low threshold), byte-identical', async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'refuge-hamt-'));
  t.after(() => rm(tmp, { recursive: true, force: true }));
  const src = join(tmp, 'src');
  await mkdir(join(src, 'many'), { recursive: true });
  for (let i = 0; i < 300; i++) await writeFile(join(src, 'many', `entry-${i}.txt`), `file ${i}\n`);
  await writeFile(join(src, 'top.bin'), seededBytes(100_000, 9));
  const store = newStore();
  const snap = await createSnapshot(store, src, { shardThresholdBytes: 2_000 });
  const many = (await listDirectory(store, parseRoot(snap.root))).find((l) => l.name === 'many');
  assert.ok(many, 'the root lists the sharded folder');
  assert.equal(UnixFS.unmarshal(dagPb.decode(await readBlock(store, many.cid)).Data!).type, 'hamt-sharded-directory');
  const out = join(tmp, 'out');
  await restoreSnapshot(store, snap.root, out);
  const names = (await readdir(join(out, 'many'))).sort();
  assert.deepEqual(names, (await readdir(join(src, 'many'))).sort());
  assert.equal(await readFs(join(out, 'many', 'entry-123.txt'), 'utf8'), 'file 123\n');
  assert.ok((await readFs(join(out, 'top.bin'))).equals(await readFs(join(src, 'top.bin'))));
});

test('malformed shards are refused, not guessed at', async () => {
  const store = newStore();
  const writer = new BlockWriter(store);
  const file = await writer.write(new Uint8Array([1, 2, 3]), RAW_CODEC);
  const shard = (links: dagPb.PBLink[], fanout = 256n) =>
    writer.write(dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'hamt-sharded-directory', fanout, hashType: 0x22n, data: new Uint8Array(32) }).marshal(), Links: links })), DAG_PB_CODEC);
  const badName = await shard([{ Name: 'zz-name', Hash: file, Tsize: 3 }]);
  const badFanout = await shard([{ Name: '00a', Hash: file, Tsize: 3 }], 3n);
  const rawSub = await shard([{ Name: '00', Hash: file, Tsize: 3 }]);
  const dup = await shard([{ Name: '00a', Hash: file, Tsize: 3 }, { Name: '01a', Hash: file, Tsize: 3 }]);
  await writer.flush();
  for (const cid of [badName, badFanout, rawSub, dup]) await assert.rejects(listDirectory(store, cid), { code: 'hash_mismatch' });
});
