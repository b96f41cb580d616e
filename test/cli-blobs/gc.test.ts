// `refuge blobs gc` never deletes a reachable blob: two folders snapshotted, one ref removed, gc —
// the other snapshot (every version) still restores byte-identical, the removed one's unique blobs
// are gone, pinned blobs stay, and blobs younger than the grace period stay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FsBlobStore, type BlobId } from '../../src/blobs/index.ts';
import { reachableBlobs } from '../../src/files/index.ts';
import { tempDir } from '../helpers/db.ts';
import { assertSameTree, cli, makeTree, startNode } from './helpers.ts';

const idOf = (b: string) => `sha256-${createHash('sha256').update(b).digest('hex')}` as BlobId;

test('gc keeps every reachable, pinned or young blob and deletes the rest (--data, then --url)', async (t) => {
  const dir = await tempDir('refuge-cli-gc-');
  t.after(dir.cleanup);
  const data = join(dir.path, 'data');
  const [a, b] = [join(dir.path, 'a'), join(dir.path, 'b')];
  await makeTree(a, 'folder a');
  await makeTree(b, 'folder b');
  const snap = async (src: string, ref: string) => {
    const r = await cli(['snapshot', 'create', src, '--ref', ref, '--data', data, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { root: string };
  };
  const a1 = await snap(a, 'keep');
  await appendFile(join(a, 'big.bin'), 'version two');
  await snap(a, 'keep');
  const b1 = await snap(b, 'drop');
  const pinned = join(dir.path, 'pinned.txt');
  const loose = join(dir.path, 'loose.txt');
  await writeFile(pinned, 'pinned bytes');
  await writeFile(loose, 'loose bytes');
  assert.equal((await cli(['blobs', 'put', pinned, loose, '--data', data])).code, 0);
  assert.equal((await cli(['blobs', 'pin', idOf('pinned bytes'), '--data', data])).code, 0);

  // Remove ref `drop` (refs are append-only files: delete its folder as an operator would).
  await rm(join(data, 'refs', Buffer.from('drop').toString('base64url')), { recursive: true });

  const store = await FsBlobStore.open({ dir: join(data, 'blobs') });
  const keepA = (await reachableBlobs(store, [a1.root])).reachable;
  const uniqueB = [...(await reachableBlobs(store, [b1.root])).reachable].filter((id) => !keepA.has(id));
  await store.close();
  assert.ok(uniqueB.length > 0);

  // Default grace (10 min): everything was just written, nothing goes.
  const young = await cli(['blobs', 'gc', '--data', data, '--json']);
  assert.equal(young.code, 0, young.stderr);
  const yr = JSON.parse(young.stdout) as { deleted: string[]; young: number };
  assert.deepEqual(yr.deleted, []);
  assert.equal(yr.young, uniqueB.length + 1);

  // A dry run with no grace lists exactly the unreachable blobs, deleting nothing.
  const dry = await cli(['blobs', 'gc', '--dry-run', '--grace', '0', '--data', data, '--json']);
  const dr = JSON.parse(dry.stdout) as { deleted: string[]; dryRun: boolean };
  assert.equal(dr.dryRun, true);
  assert.deepEqual(dr.deleted, [...uniqueB, idOf('loose bytes')].sort());

  const gc = await cli(['blobs', 'gc', '--grace', '0', '--data', data, '--json']);
  assert.equal(gc.code, 0, gc.stderr);
  assert.deepEqual((JSON.parse(gc.stdout) as { deleted: string[] }).deleted, dr.deleted);

  // Both versions of `keep` restore byte-identical; `drop`'s unique blobs are gone; the pin stays.
  const out2 = join(dir.path, 'out2');
  assert.equal((await cli(['snapshot', 'restore', 'keep', out2, '--data', data])).code, 0);
  await assertSameTree(a, out2);
  assert.equal((await cli(['snapshot', 'restore', 'keep@1', join(dir.path, 'out1'), '--data', data])).code, 0);
  const ls = (await cli(['blobs', 'ls', '--data', data])).stdout.trim().split('\n');
  for (const id of uniqueB) assert.ok(!ls.includes(id), `${id} should be gone`);
  assert.ok(ls.includes(idOf('pinned bytes')));
  assert.ok(!ls.includes(idOf('loose bytes')));
  assert.equal((await cli(['blobs', 'verify', '--data', data])).code, 0);

  // Over --url: unpin, then the pinned blob goes too; still nothing reachable.
  const node = await startNode(data, 'leveldb');
  t.after(node.close);
  assert.equal((await cli(['blobs', 'unpin', idOf('pinned bytes'), '--url', node.url])).code, 0);
  const remote = await cli(['blobs', 'gc', '--grace', '0', '--url', node.url, '--json']);
  assert.equal(remote.code, 0, remote.stderr);
  assert.deepEqual((JSON.parse(remote.stdout) as { deleted: string[] }).deleted, [idOf('pinned bytes')]);
  const out3 = join(dir.path, 'out3');
  assert.equal((await cli(['snapshot', 'restore', 'keep', out3, '--url', node.url])).code, 0);
  await assertSameTree(a, out3);
});

test('gc keeps blobs that document attachments refer to, in winners and older revisions', async (t) => {
  const { openNode } = await import('../../src/node/index.ts');
  const node = await openNode({ engine: 'memory' });
  t.after(() => node.close());
  const db = await node.createDb('withatts');
  const r1 = await db.put({ _id: 'a', _attachments: { old: { content_type: 'text/plain', data: Buffer.from('old bytes').toString('base64') } } });
  await db.put({ _id: 'a', _rev: r1.rev, _attachments: { cur: { content_type: 'text/plain', data: Buffer.from('current bytes').toString('base64') } } });
  const stray = await node.blobs.put(new TextEncoder().encode('nobody refers to me'));
  const result = await node.collectBlobGarbage({ graceMs: 0 });
  assert.ok(result);
  assert.equal(await node.blobs.has(stray.id), false);
  const { read } = await db.getAttachment('a', 'cur');
  const chunks: Uint8Array[] = [];
  for await (const c of read) chunks.push(c);
  assert.equal(Buffer.concat(chunks).toString(), 'current bytes');
  // The older revision's attachment is still there until compaction.
  const old = await db.getAttachment('a', 'old', { rev: r1.rev });
  assert.equal(old.stub.length, 9);
  assert.ok(await node.blobs.has(old.stub.digest as never));
});

test('a blob stored again (reused by a writer) is young again: gc spares it for the grace period', async (t) => {
  const { collectGarbage, blobAgeOf } = await import('../../src/gc/index.ts');
  const { utimes } = await import('node:fs/promises');
  const dir = await tempDir('refuge-gc-touch-');
  t.after(dir.cleanup);
  const store = await FsBlobStore.open({ dir: dir.path });
  t.after(() => store.close());
  const bytes = new TextEncoder().encode('old block reused by a new snapshot');
  const old = await store.put(bytes);
  const orphan = await store.put(new TextEncoder().encode('old block nobody reuses'));
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const id of [old.id, orphan.id]) await utimes(store.pathOf(id), hourAgo, hourAgo);
  // A writer reuses the first one (its reference is not written yet when gc runs).
  const again = await store.put(bytes, { expectedId: old.id });
  assert.equal(again.created, false);
  await collectGarbage(store, { ageOf: blobAgeOf(store), graceMs: 10 * 60_000 });
  assert.equal(await store.has(old.id), true);
  assert.equal(await store.has(orphan.id), false);
});

test('a held blob an attachment write names without its bytes is young again too: gc spares it until the write is committed', async (t) => {
  const { collectGarbage, blobAgeOf } = await import('../../src/gc/index.ts');
  const { AttachmentBytes } = await import('../../src/documents/index.ts');
  const { utimes } = await import('node:fs/promises');
  const dir = await tempDir('refuge-gc-reuse-');
  t.after(dir.cleanup);
  const store = await FsBlobStore.open({ dir: dir.path });
  t.after(() => store.close());
  const old = await store.put(new TextEncoder().encode('bytes a replicated attachment names by their hash'));
  const hourAgo = new Date(Date.now() - 3600_000);
  await utimes(store.pathOf(old.id), hourAgo, hourAgo);
  // A write of a document naming that blob (a replication between databases of this node) takes it
  // as it is; gc runs before the document is committed.
  const named = await AttachmentBytes.ofBlob(store, old.id, old.size).storeIn(store, 'a.bin');
  assert.equal(named.id, old.id);
  await collectGarbage(store, { ageOf: blobAgeOf(store), graceMs: 10 * 60_000 });
  assert.equal(await store.has(old.id), true, 'not swept from under the write');
});

test('the memory store ages its blobs as the fs store does: reused ones are young again, others are swept', async (t) => {
  const { collectGarbage, blobAgeOf } = await import('../../src/gc/index.ts');
  const { AttachmentBytes } = await import('../../src/documents/index.ts');
  const { MemoryBlobStore } = await import('../../src/blobs/index.ts');
  // Only Date is mocked: the store's clock. Stored an hour "ago", then the clock moves on.
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000_000_000 });
  const store = new MemoryBlobStore();
  t.after(() => store.close());
  const bytes = new TextEncoder().encode('stored again by a new snapshot');
  const stored = await store.put(bytes);
  const named = await store.put(new TextEncoder().encode('named by an attachment write'));
  const orphan = await store.put(new TextEncoder().encode('nobody reuses this one'));
  t.mock.timers.tick(3600_000);
  assert.equal((await store.put(bytes, { expectedId: stored.id })).created, false);
  await AttachmentBytes.ofBlob(store, named.id, named.size).storeIn(store, 'a.bin');
  const report = await collectGarbage(store, { ageOf: blobAgeOf(store), graceMs: 10 * 60_000 });
  assert.deepEqual(report.deleted, [orphan.id], 'only the blob nobody reused is old enough');
  assert.equal(await store.has(stored.id), true);
  assert.equal(await store.has(named.id), true);
});

test('gc among given roots (the node\'s own gc): only those, and what their trees hold, may go; the rest of the store stays', async (t) => {
  const { collectGarbage, MemoryPinStore } = await import('../../src/gc/index.ts');
  const { MemoryBlobStore } = await import('../../src/blobs/index.ts');
  const store = new MemoryBlobStore();
  t.after(() => store.close());
  const put = async (text: string) => (await store.put(new TextEncoder().encode(text))).id;
  const dropped = await put('an attachment a compaction dropped');
  const pinned = await put('dropped too, but pinned');
  const byHand = await put('stored by hand, named by nothing');
  const pins = new MemoryPinStore();
  await pins.add(pinned);
  const absent = idOf('named by a dropped revision, already gone');
  const report = await collectGarbage(store, { pins, graceMs: 0, only: [dropped, pinned, absent] });
  assert.deepEqual(report.deleted, [dropped]);
  assert.equal(await store.has(pinned), true, 'reachable: kept');
  assert.equal(await store.has(byHand), true, 'not among the given roots: not looked at');
  assert.deepEqual((await collectGarbage(store, { pins, graceMs: 0 })).deleted, [byHand], 'the whole store, by hand');
});

test('a pin is one pin however its root is spelled: a raw CID is its blob id, a tree CID its base32 CIDv1', async () => {
  const { MemoryPinStore, checkPin } = await import('../../src/gc/pins.ts');
  const { cidOfBlobId, DAG_PB_CODEC, RAW_CODEC } = await import('../../src/files/blocks.ts');
  const id = idOf('pinned once');
  const raw = cidOfBlobId(id, RAW_CODEC);
  assert.equal(checkPin(raw.toString()), id);
  assert.equal(checkPin(raw.toV1().toString((await import('multiformats/bases/base58')).base58btc)), id);
  const tree = cidOfBlobId(id, DAG_PB_CODEC);
  assert.equal(checkPin(tree.toString()), tree.toString());
  const pins = new MemoryPinStore();
  assert.equal(await pins.add(raw.toString()), true);
  assert.equal(await pins.add(id), false, 'the same root');
  assert.deepEqual(await pins.list(), [id]);
  assert.equal(await pins.remove(raw.toString()), true);
  assert.deepEqual(await pins.list(), []);
});

test('gc --status tells what the running node\'s own gc has still to look at; a stopped node\'s directory is refused', async (t) => {
  const dir = await tempDir('refuge-cli-gc-status-');
  t.after(dir.cleanup);
  const data = join(dir.path, 'data');
  const node = await startNode(data);
  try {
    const idle = await cli(['blobs', 'gc', '--status', '--url', node.url, '--json']);
    assert.equal(idle.code, 0, idle.stderr);
    assert.equal(JSON.parse(idle.stdout).candidates, 0);

    const db = await node.node.createDb('photos');
    const att = (text: string) => ({ pic: { content_type: 'text/plain', data: Buffer.from(text).toString('base64') } });
    const r1 = await db.put({ _id: 'a', _attachments: att('the first picture') });
    await db.put({ _id: 'a', _rev: r1.rev, _attachments: att('the second picture') });
    assert.equal((await db.compact()).droppedBodies, 1);

    const wire = await cli(['blobs', 'gc', '--status', '--url', node.url, '--json']);
    assert.equal(wire.code, 0, wire.stderr);
    const status = JSON.parse(wire.stdout) as { auto: boolean; candidates: number; due_at: string | null };
    assert.equal(status.auto, true);
    assert.equal(status.candidates, 1, 'the compacted revision\'s attachment');
    assert.equal(typeof status.due_at, 'string');
    const text = await cli(['blobs', 'gc', '--status', '--url', node.url]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^1 blob\(s\) or root\(s\) whose references dropped wait/);
    assert.match(text.stdout, new RegExp(`next collection from ${status.due_at!.slice(0, 10)}`));

    const mixed = await cli(['blobs', 'gc', '--status', '--grace', '0', '--url', node.url]);
    assert.equal(mixed.code, 2, 'a usage error');
    assert.match(mixed.stderr, /takes none of/);
  } finally {
    await node.close();
  }
  const stopped = await cli(['blobs', 'gc', '--status', '--data', data]);
  assert.equal(stopped.code, 1);
  assert.match(stopped.stderr, /a stopped node runs no gc of its own/);
});
