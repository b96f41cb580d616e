// `/refuge/blobs/1.0.0` between two nodes: have/want/get verified against the id as bytes arrive,
// forged answers refused (nothing stored), and only trusted peers with a read grant served.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lpStream } from '@libp2p/utils';
import type { BlobId } from '../../src/blobs/id.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { addPeer, BLOB_PROTOCOL, setGrant } from '../../src/mesh/index.ts';
import { startPeerNode, type PeerNode } from './helpers.ts';

const code = (c: string) => (err: unknown) => isRefugeError(err) && err.code === c;
const bytes = (text: string) => new TextEncoder().encode(text);

async function pair(t: { after: (fn: () => Promise<void>) => void }): Promise<[PeerNode, PeerNode]> {
  const owner = await startPeerNode();
  const reader = await startPeerNode();
  t.after(async () => {
    await reader.close();
    await owner.close();
  });
  await reader.mesh.connect(owner.mesh.invite());
  return [owner, reader];
}

test('a trusted reader fetches blobs, verified; have and want report what the peer holds', async (t) => {
  const [owner, reader] = await pair(t);
  const big = new Uint8Array(700 * 1024).map((_, i) => (i * 31) % 251); // several data frames
  const one = await owner.node.blobs.put(big);
  const two = await owner.node.blobs.put(bytes('second'));
  const absent = 'sha256-' + '0'.repeat(64) as BlobId;

  // Not trusted yet: nothing, not even existence.
  await assert.rejects(reader.mesh.blobs.have(owner.mesh.peerId, [one.id]), code('forbidden'));
  await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, one.id), code('forbidden'));
  // Trusted but with no read grant: still nothing.
  await owner.trust.update((s) => addPeer(s, { id: reader.mesh.peerId }));
  await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, one.id), code('forbidden'));
  await owner.node.createDb('notes');
  await owner.trust.update((s) => setGrant(s, 'notes', 'read', `peer:${reader.mesh.peerId}`, true));

  assert.deepEqual(await reader.mesh.blobs.have(owner.mesh.peerId, [one.id, absent]), [{ size: big.length }, null]);
  const got = await reader.mesh.blobs.fetch(owner.mesh.peerId, one.id);
  assert.deepEqual(got, { id: one.id, size: big.length, created: true });
  assert.equal((await reader.node.blobs.verify(one.id)).status, 'ok');
  await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, absent), code('not_found'));
  await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, two.id, { maxSize: 3 }), code('too_large'));
  assert.deepEqual(await reader.mesh.blobs.want(owner.mesh.peerId, [one.id, two.id, absent]), { fetched: [two.id], missing: [absent] });
  assert.equal(await reader.node.blobs.has(two.id), true);
});

test('forged or truncated answers are refused and nothing is stored', async (t) => {
  const [owner, reader] = await pair(t);
  const real = bytes('the genuine content');
  const id = (await reader.node.blobs.put(real)).id;
  await reader.node.blobs.delete(id);
  // The owner's node turns hostile: it answers any get with other bytes of the announced size, or too few, or too many.
  let mode: 'forge' | 'short' | 'long' = 'forge';
  await owner.mesh.handle(BLOB_PROTOCOL, async (stream) => {
    const lp = lpStream(stream);
    await lp.read();
    await lp.write(bytes(JSON.stringify({ ok: true, result: { size: real.length } })));
    const body = mode === 'forge' ? bytes('X'.repeat(real.length)) : mode === 'short' ? real.subarray(0, 5) : new Uint8Array([...real, 1, 2]);
    await lp.write(body);
    await lp.write(new Uint8Array(0));
    await stream.close();
  });
  for (const m of ['forge', 'short', 'long'] as const) {
    mode = m;
    await assert.rejects(reader.mesh.blobs.fetch(owner.mesh.peerId, id), code('hash_mismatch'), m);
    assert.equal(await reader.node.blobs.has(id), false, `${m}: nothing stored`);
  }
});
