// Resumable blob fetches over `/refuge/blobs/1.0.0`: a fetch cut mid-blob continues from the staged
// offset (the prefix is not sent again), wrong bytes for the rest store and keep nothing, a peer that
// ignores offsets cannot corrupt the result, retries are bounded, staging expires and is bounded,
// and a reader slower than the link is not cut.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { BLOB_PROTOCOL } from '../../src/mesh/index.ts';
import { BlobTransfers } from '../../src/mesh/blob-resume.ts';
import { idOf, randomBytesOf } from '../blobs/helpers.ts';
import { CUT, FRAME, KiB, code, countReads, cutThenServe, data, id, json, noLeftovers, readRequest, readable } from './blob-transfer-helpers.ts';

test('a fetch cut mid-blob continues from the staged offset: the prefix is not sent again, the blob is verified whole', async (t) => {
  const [owner, reader] = await readable(t);
  const served = countReads(owner.node.blobs);
  const asked: Array<number | undefined> = [];
  await cutThenServe(owner, owner.mesh.blobs.handler, asked);
  const got = await reader.mesh.blobs.fetch(owner.mesh.peerId, id);
  assert.deepEqual(got, { id, size: data.length, created: true });
  assert.deepEqual(asked, [undefined]);
  assert.deepEqual(served, [{ start: CUT, bytes: data.length - CUT }], 'the retry asked for the rest only');
  const read = await reader.node.blobs.get(id);
  const chunks: Uint8Array[] = [];
  for await (const c of read) chunks.push(c);
  assert.deepEqual(Buffer.concat(chunks), Buffer.from(data));
  assert.equal((await reader.node.blobs.verify(id)).status, 'ok');
  await noLeftovers(reader);
});

test('wrong bytes for the rest of a cut fetch store nothing and leave nothing staged (one fresh try, then hash_mismatch)', async (t) => {
  const [owner, reader] = await readable(t);
  const asked: Array<number | undefined> = [];
  // After the cut the peer turns hostile: the announced size and offset, other bytes.
  await cutThenServe(owner, async (stream) => {
    const { lp, req } = await readRequest(stream);
    asked.push(req.offset);
    const from = req.offset ?? 0;
    await lp.write(json({ ok: true, result: { size: data.length, offset: from } }));
    const wrong = new Uint8Array(data.length - from).fill(88);
    for (let at = 0; at < wrong.length; at += FRAME) await lp.write(wrong.subarray(at, at + FRAME));
    await lp.write(new Uint8Array(0));
    await stream.close();
  }, asked);
  await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, id), code('hash_mismatch'));
  // The staged prefix may have been the wrong part: the mismatch over it is tried once from byte 0.
  assert.deepEqual(asked, [undefined, CUT, undefined]);
  assert.equal(await reader.node.blobs.has(id), false);
  await noLeftovers(reader);
});

test('a peer that ignores the offset (an older node) sends the whole blob again: the staged prefix is replaced, not prepended', async (t) => {
  const [owner, reader] = await readable(t);
  const asked: Array<number | undefined> = [];
  await cutThenServe(owner, async (stream) => {
    const { lp, req } = await readRequest(stream);
    asked.push(req.offset);
    await lp.write(json({ ok: true, result: { size: data.length } }));
    for (let at = 0; at < data.length; at += FRAME) await lp.write(data.subarray(at, at + FRAME));
    await lp.write(new Uint8Array(0));
    await stream.close();
  }, asked);
  assert.deepEqual(await reader.mesh.blobs.fetch(owner.mesh.peerId, id), { id, size: data.length, created: true });
  assert.deepEqual(asked, [undefined, CUT]);
  assert.equal((await reader.node.blobs.verify(id)).status, 'ok');
  await noLeftovers(reader);
});

test('retries are bounded: a peer that keeps cutting without sending a byte is given up on (unavailable)', async (t) => {
  const [owner, reader] = await readable(t, { attempts: 2 });
  let asked = 0;
  await owner.mesh.handle(BLOB_PROTOCOL, async (stream) => {
    const { lp } = await readRequest(stream);
    asked++;
    await lp.write(json({ ok: true, result: { size: data.length, offset: 0 } }));
    await stream.close();
  });
  await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, id), code('unavailable'));
  assert.equal(asked, 2);
  assert.equal(await reader.node.blobs.has(id), false);
});

test('staged bytes expire: a fetch past the TTL starts over from byte 0 and nothing is left behind', async (t) => {
  let now = Date.now();
  const ttlMs = 60_000;
  const [owner, reader] = await readable(t, { ttlMs, now: () => now });
  const served = countReads(owner.node.blobs);
  // Cut, then the blob is gone from the peer: the fetch fails for good and keeps what it got.
  await cutThenServe(owner, async (stream) => {
    const { lp } = await readRequest(stream);
    await lp.write(json({ error: 'not_found', reason: 'gone' }));
    await stream.close();
  }, []);
  await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, id), code('not_found'));
  assert.equal(await reader.mesh.blobs.partial(id), CUT);
  now += ttlMs;
  await owner.mesh.handle(BLOB_PROTOCOL, owner.mesh.blobs.handler);
  assert.deepEqual(await reader.mesh.blobs.fetch(owner.mesh.peerId, id), { id, size: data.length, created: true });
  assert.deepEqual(served, [{ start: 0, bytes: data.length }], 'expired bytes are not continued');
  await noLeftovers(reader);
});

test('a reader slower than the link is not cut: the stream pauses while bytes wait unread (back-pressure)', async (t) => {
  // No staging and no retry: a single transfer must get through whole.
  const [owner, reader] = await readable(t, { minBytes: 64 * 1024 * 1024, attempts: 1 });
  const large = randomBytesOf(24 * 1024 * KiB); // more than any buffer on the way holds
  const largeId = (await owner.node.blobs.put(large)).id;
  const put = reader.node.blobs.put.bind(reader.node.blobs);
  reader.node.blobs.put = (source, options) =>
    put(
      (async function* () {
        for await (const chunk of source as AsyncIterable<Uint8Array>) {
          await delay(2); // a slow disk
          yield chunk;
        }
      })(),
      options,
    );
  assert.deepEqual(await reader.mesh.blobs.fetch(owner.mesh.peerId, largeId), { id: largeId, size: large.length, created: true });
});

test('partial blobs take at most maxBytes: the oldest unused ones make room, and a transfer that cannot fit is not staged', async () => {
  const MiB = 1024 * KiB;
  let now = 1_000_000;
  const transfers = new BlobTransfers(undefined, { maxBytes: 3 * MiB, maxBytesPerPeer: 3 * MiB, now: () => now });
  try {
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((s) => idOf(new TextEncoder().encode(s)));
    const area = await transfers.area();
    const keys = async () => (await area.list()).map((e) => e.key).sort();
    assert.equal(await transfers.stage(a!, 2 * MiB, 'peer'), true);
    await area.append(a!, 0, [new Uint8Array(100)]);
    now++;
    assert.equal(await transfers.stage(b!, MiB, 'peer'), true);
    now++;
    // c needs 2 MiB: a, the oldest, goes (counted at its full size, not the 100 bytes it has).
    assert.equal(await transfers.stage(c!, 2 * MiB, 'peer'), true);
    assert.deepEqual(await keys(), [b, c].sort());
    // While transfers of b and c run, nothing can make room for d: it is not staged, and nothing is dropped.
    const staged = await transfers.exclusive(b!, () => transfers.exclusive(c!, () => transfers.stage(d!, MiB, 'peer')));
    assert.equal(staged, false);
    assert.deepEqual(await keys(), [b, c].sort());
    assert.equal(await transfers.stage(d!, 4 * MiB, 'peer'), false, 'larger than the whole area');
  } finally {
    await transfers.close();
  }
});

test("one peer's partial blobs take at most maxBytesPerPeer: its own oldest go first, never another peer's for it", async () => {
  const MiB = 1024 * KiB;
  let now = 1_000_000;
  const transfers = new BlobTransfers(undefined, { maxBytes: 4 * MiB, now: () => now });
  try {
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((s) => idOf(new TextEncoder().encode(s)));
    const area = await transfers.area();
    const keys = async () => (await area.list()).map((x) => `${x.meta.from}:${x.key === a ? 'a' : x.key === b ? 'b' : x.key === c ? 'c' : x.key === d ? 'd' : 'e'}`).sort();
    // Default share: half of the area.
    assert.equal(await transfers.stage(a!, MiB, 'honest'), true);
    now++;
    assert.equal(await transfers.stage(b!, MiB, 'greedy'), true);
    now++;
    assert.equal(await transfers.stage(c!, MiB, 'greedy'), true);
    now++;
    // The greedy peer is at its 2 MiB: a third partial blob makes room from its own oldest (b),
    // although the area as a whole had room, and the honest peer's older one stays.
    assert.equal(await transfers.stage(d!, MiB, 'greedy'), true);
    assert.deepEqual(await keys(), ['greedy:c', 'greedy:d', 'honest:a']);
    // More than its share at once: refused, and nothing is dropped.
    assert.equal(await transfers.stage(e!, 3 * MiB, 'greedy'), false);
    // While its own transfers run, nothing of its own can go: not staged, the honest peer's kept.
    const staged = await transfers.exclusive(c!, () => transfers.exclusive(d!, () => transfers.stage(e!, MiB, 'greedy')));
    assert.equal(staged, false);
    assert.deepEqual(await keys(), ['greedy:c', 'greedy:d', 'honest:a']);
    // The honest peer still has its own share.
    assert.equal(await transfers.stage(e!, MiB, 'honest'), true);
    assert.deepEqual(await keys(), ['greedy:c', 'greedy:d', 'honest:a', 'honest:e']);
  } finally {
    await transfers.close();
  }
});
