// Refs over the mesh (`/refuge/refs/1.0.0`) under `ref:NAME` grants: a peer lists and fetches only the
// refs it may read; AutoSync pulls a shared ref's signed values and its whole tree, and follows new
// values while the peers stay connected.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSnapshot, reachableBlobs, restoreSnapshot } from '../../src/files/index.ts';
import { AutoSync, addPeer, setGrant, type AutoSyncEvents } from '../../src/mesh/index.ts';
import { nextEvent, startPeerNode, tempDir } from './helpers.ts';

test('a shared ref and its tree reach the peer that accepts it; unshared refs stay hidden', async (t) => {
  const dir = await tempDir('refuge-ref-sync-');
  t.after(dir.cleanup);
  const src = join(dir.path, 'src');
  await mkdir(join(src, 'sub'), { recursive: true });
  await writeFile(join(src, 'big.bin'), randomBytes(900_000));
  await writeFile(join(src, 'sub', 'note.txt'), 'hello\n');

  const a = await startPeerNode();
  const b = await startPeerNode();
  const syncB = new AutoSync({ mesh: b.mesh, node: b.node, rescanMs: 50 });
  t.after(async () => {
    await syncB.stop();
    await Promise.all([a.close(), b.close()]);
  });
  const first = await createSnapshot(a.node.blobs, src, { ref: 'photos', refs: a.node.refs, key: a.node.key });
  await createSnapshot(a.node.blobs, join(src, 'sub'), { ref: 'private/notes', refs: a.node.refs, key: a.node.key });

  // a lets b read photos; b accepts photos (and would accept private/notes, which a does not share).
  await a.trust.update((s) => setGrant(addPeer(s, { id: b.mesh.peerId }), 'ref:photos', 'read', `peer:${b.mesh.peerId}`, true));
  await b.trust.update((s) => {
    const next = setGrant(addPeer(s, { id: a.mesh.peerId }), 'ref:photos', 'write', `peer:${a.mesh.peerId}`, true);
    return setGrant(next, 'ref:private/notes', 'write', `peer:${a.mesh.peerId}`, true);
  });

  const pulled = nextEvent(syncB, 'ref', (e) => e.name === 'photos' && e.pull !== undefined);
  await b.mesh.connect(a.mesh.invite());
  const got = (await pulled) as Required<Pick<AutoSyncEvents['ref'], 'pull'>> & AutoSyncEvents['ref'];
  assert.equal(got.pull.stored, 1);
  assert.equal(got.pull.root, first.root);
  assert.ok(got.pull.fetched >= 4, `fetched ${got.pull.fetched} blobs`);
  assert.deepEqual(got.pull.missing, []);
  assert.deepEqual(await b.node.refs.get('photos'), await a.node.refs.get('photos'), 'the same signed value');
  assert.equal(await b.node.refs.get('private/notes'), null);
  assert.deepEqual((await reachableBlobs(b.node.blobs, [first.root])).missing, []);
  const out = join(dir.path, 'restored');
  await restoreSnapshot(b.node.blobs, 'photos', out, { refs: b.node.refs });
  assert.ok((await readFile(join(out, 'big.bin'))).equals(await readFile(join(src, 'big.bin'))));

  // What b may see of a's refs, asked directly.
  assert.deepEqual(await b.mesh.refs.list(a.mesh.peerId), ['photos']);
  await assert.rejects(b.mesh.refs.history(a.mesh.peerId, 'private/notes'), { code: 'forbidden' });
  // And a, not granted anything by b, sees nothing of b's.
  assert.deepEqual(await a.mesh.refs.list(b.mesh.peerId), []);

  // A new value on a arrives while the peers stay connected; only new blocks travel.
  await writeFile(join(src, 'sub', 'note.txt'), 'hello again\n');
  const moved = nextEvent(syncB, 'ref', (e) => e.name === 'photos' && (e.pull?.stored ?? 0) > 0);
  const second = await createSnapshot(a.node.blobs, src, { ref: 'photos', refs: a.node.refs, key: a.node.key });
  const update = (await moved).pull!;
  assert.equal(update.root, second.root);
  assert.equal((await b.node.refs.get('photos'))?.seq, 2);
  assert.ok(update.fetched <= 4, `an unchanged big file is not fetched again (${update.fetched} blobs)`);
  assert.deepEqual((await reachableBlobs(b.node.blobs, [second.root])).missing, []);
});

test('a public ref serves its tree to a peer this node does not trust, and no other blob', async (t) => {
  const dir = await tempDir('refuge-ref-public-');
  t.after(dir.cleanup);
  const src = join(dir.path, 'src');
  const hidden = join(dir.path, 'hidden');
  await mkdir(src, { recursive: true });
  await mkdir(hidden, { recursive: true });
  await writeFile(join(src, 'open.bin'), randomBytes(300_000));
  await writeFile(join(hidden, 'secret.txt'), 'not for strangers\n');
  const a = await startPeerNode();
  const c = await startPeerNode();
  t.after(async () => Promise.all([a.close(), c.close()]));
  const shared = await createSnapshot(a.node.blobs, src, { ref: 'photos', refs: a.node.refs, key: a.node.key });
  const kept = await createSnapshot(a.node.blobs, hidden, { ref: 'private/notes', refs: a.node.refs, key: a.node.key });
  // a shares photos with anyone and trusts nobody; c takes photos from a.
  await a.trust.update((s) => setGrant(s, 'ref:photos', 'read', 'public', true));
  await c.trust.update((s) => setGrant(addPeer(s, { id: a.mesh.peerId }), 'ref:photos', 'write', `peer:${a.mesh.peerId}`, true));
  await c.mesh.connect(a.mesh.invite());

  const pull = await c.mesh.refs.pull(a.mesh.peerId, 'photos');
  assert.equal(pull.root, shared.root);
  assert.deepEqual(pull.missing, []);
  assert.deepEqual((await reachableBlobs(c.node.blobs, [shared.root])).missing, []);
  // The other ref's blobs stay a's, asked by id or by presence.
  const secret = [...(await reachableBlobs(a.node.blobs, [kept.root])).reachable];
  await assert.rejects(c.mesh.blobs.fetch(a.mesh.peerId, secret[0]!), { code: 'forbidden' });
  await assert.rejects(c.mesh.blobs.have(a.mesh.peerId, secret), { code: 'forbidden' });
});
