// Resumable blob pushes over `/refuge/blobs/1.0.0`: the receiver keeps what a cut push brought and
// the sender continues from there (asking with `staged`), an older receiver gets the whole blob, and
// a put at an offset the receiver does not hold is refused at once with conflict.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lpStream } from '@libp2p/utils';
import { BLOB_PROTOCOL } from '../../src/mesh/index.ts';
import { idOf, randomBytesOf } from '../blobs/helpers.ts';
import { CUT, FRAME, KiB, countReads, cutPush, data, id, json, noLeftovers, pair, writable } from './blob-transfer-helpers.ts';

test('a push cut mid-blob continues from the bytes the receiver kept', async (t) => {
  const [receiver, sender] = await writable(t);
  await cutPush(receiver, sender);
  const served = countReads(sender.node.blobs);
  assert.equal(await sender.mesh.blobs.send(receiver.mesh.peerId, id), true);
  assert.deepEqual(served, [{ start: CUT, bytes: data.length - CUT }], 'only the rest was sent');
  assert.equal((await receiver.node.blobs.verify(id)).status, 'ok');
  await noLeftovers(receiver);
  // Sent again, the receiver says it holds it: no byte moves.
  assert.equal(await sender.mesh.blobs.send(receiver.mesh.peerId, id), false);
  assert.equal(served.length, 1);
});

test('a push to an older node, which knows no `staged`, sends the whole blob as before', async (t) => {
  const [receiver, sender] = await pair(t);
  await sender.node.blobs.put(data);
  const ops: string[] = [];
  await receiver.mesh.handle(BLOB_PROTOCOL, async (stream) => {
    const lp = lpStream(stream);
    const req = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { op: string; size: number; offset?: number };
    ops.push(req.offset === undefined ? req.op : `${req.op}@${req.offset}`);
    if (req.op !== 'put') {
      await lp.write(json({ error: 'bad_request', reason: 'a blob request is have, get or put' }));
      return stream.close();
    }
    const chunks: Uint8Array[] = [];
    for (let frame = (await lp.read()).subarray(); frame.length > 0; frame = (await lp.read()).subarray()) chunks.push(frame);
    const put = await receiver.node.blobs.put(chunks, { expectedId: id });
    await lp.write(json({ ok: true, result: { created: put.created } }));
    await stream.close();
  });
  assert.equal(await sender.mesh.blobs.send(receiver.mesh.peerId, id), true);
  assert.deepEqual(ops, ['staged', 'put']);
  assert.equal((await receiver.node.blobs.verify(id)).status, 'ok');
});

test('a put at an offset the receiver does not hold is refused with conflict, and the sender is not left writing', { timeout: 30_000 }, async (t) => {
  const [receiver, sender] = await writable(t);
  const big = randomBytesOf(8 * 1024 * KiB); // more than a paused stream lets through
  const stream = await sender.mesh.openStream(receiver.mesh.peerId, BLOB_PROTOCOL);
  const lp = lpStream(stream);
  await lp.write(json({ op: 'put', id: idOf(big), size: big.length, offset: CUT }));
  let cut = false;
  try {
    for (let at = CUT; at < big.length; at += FRAME) await lp.write(big.subarray(at, at + FRAME));
    await lp.write(new Uint8Array(0));
  } catch {
    cut = true; // the receiver reset the stream after answering
  }
  const answer = JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { error?: string };
  assert.equal(answer.error, 'conflict');
  assert.equal(cut || stream.status !== 'open', true);
  assert.equal(await receiver.mesh.blobs.partial(idOf(big)), 0);
});

test('a push continued from a stale offset meets conflict and continues from the offset the receiver has', { timeout: 30_000 }, async (t) => {
  const [receiver, sender] = await writable(t);
  await cutPush(receiver, sender);
  // The first answer to `staged` is stale (as when the receiver's staged bytes changed since).
  const exchange = sender.mesh.blobs as unknown as { stagedAt: (...args: unknown[]) => Promise<number | 'stored'> };
  const stagedAt = exchange.stagedAt.bind(exchange);
  let lies = 1;
  exchange.stagedAt = (...args) => (lies-- > 0 ? Promise.resolve(CUT + FRAME) : stagedAt(...args));
  const served = countReads(sender.node.blobs);
  assert.equal(await sender.mesh.blobs.send(receiver.mesh.peerId, id), true);
  assert.deepEqual(served.map((r) => r.start), [CUT + FRAME, CUT]);
  assert.deepEqual(served[1], { start: CUT, bytes: data.length - CUT });
  assert.equal((await receiver.node.blobs.verify(id)).status, 'ok');
  await noLeftovers(receiver);
});
