// The replication invariant over the mesh: nodes that edited the same and different documents while
// apart exchange changes both ways over libp2p streams and end with identical trees and winners.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/core.ts';
import { addPeer, setGrant, type TrustState } from '../../src/mesh/index.ts';
import { sync } from '../../src/replication/index.ts';
import { assertSameTrees } from '../replication/helpers/trees.ts';
import { startPeerNode, tempDir, type PeerNode } from './helpers.ts';

/** `peer` may read and write `db` on the node whose state this is. */
const share = (peer: string, db: string) => (s: TrustState) =>
  setGrant(setGrant(addPeer(s, { id: peer, groups: ['team'] }), db, 'read', 'group:team', true), db, 'write', 'group:team', true);

async function befriend(x: PeerNode, y: PeerNode, db: string): Promise<void> {
  await x.trust.update(share(y.mesh.peerId, db));
  await y.trust.update(share(x.mesh.peerId, db));
}

test('two nodes edit the same and different documents apart, then sync over the mesh and converge', async (t) => {
  const dir = await tempDir();
  t.after(dir.cleanup);
  const a = await startPeerNode({ dataDir: `${dir.path}/a` });
  let b = await startPeerNode({ dataDir: `${dir.path}/b` });
  t.after(async () => {
    await b.close();
    await a.close();
  });
  await befriend(a, b, 'notes');
  const da = await a.node.createDb('notes');
  let db = await b.node.createDb('notes');
  const base = await da.put({ _id: 'shared', v: 'base' });
  await b.mesh.connect(a.mesh.invite());
  await sync(db, b.mesh.peer(a.mesh.peerId, 'notes')).done;

  // Apart: b's node goes away entirely while both sides edit.
  await b.close();
  const onA = await da.put({ _id: 'shared', _rev: base.rev, v: 'edited on a' });
  await da.put({ _id: 'shared', _rev: onA.rev, v: 'edited on a, twice' });
  await da.put({ _id: 'only-a', v: 1 });
  b = await startPeerNode({ dataDir: `${dir.path}/b` });
  db = await b.node.db('notes');
  await db.put({ _id: 'shared', _rev: base.rev, v: 'edited on b' });
  const gone = await db.put({ _id: 'only-b', v: 2 });
  await db.remove('only-b', gone.rev);
  await db.put({ _id: 'only-b2', v: 3 });

  // Together again (b restarted: same key, new port), both ways over the mesh.
  await b.mesh.connect(a.mesh.invite());
  const { push, pull } = await sync(db, b.mesh.peer(a.mesh.peerId, 'notes')).done;
  assert.equal(push.status, 'complete');
  assert.equal(pull.status, 'complete');
  assert.equal(await assertSameTrees(da, db), 4);
  for (const side of [da, db]) {
    const doc = await side.get('shared', { conflicts: true });
    assert.equal(doc.v, 'edited on a, twice', 'the longer branch wins on both sides');
    assert.equal((doc._conflicts as string[]).length, 1, 'the other edit is kept as a conflict');
  }
});

test('three nodes in a line: changes made at either end reach the other through the middle', async (t) => {
  const [a, b, c] = await Promise.all([startPeerNode(), startPeerNode(), startPeerNode()]);
  t.after(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
  });
  await befriend(a, b, 'notes');
  await befriend(b, c, 'notes');
  const dbs: Database[] = await Promise.all([a, b, c].map((n) => n.node.createDb('notes')));
  await b.mesh.connect(a.mesh.invite());
  await b.mesh.connect(c.mesh.invite());
  await dbs[0]!.put({ _id: 'from-a' });
  await dbs[2]!.put({ _id: 'from-c' });
  await dbs[0]!.put({ _id: 'both', v: 'a' });
  await dbs[2]!.put({ _id: 'both', v: 'c' });
  // The middle node syncs with each end, then with the first again so it hears what the last said.
  await sync(dbs[1]!, b.mesh.peer(a.mesh.peerId, 'notes')).done;
  await sync(dbs[1]!, b.mesh.peer(c.mesh.peerId, 'notes')).done;
  await sync(dbs[1]!, b.mesh.peer(a.mesh.peerId, 'notes')).done;
  await assertSameTrees(dbs[0]!, dbs[1]!);
  assert.equal(await assertSameTrees(dbs[0]!, dbs[2]!), 3);
  assert.equal(a.mesh.connectedPeers().includes(c.mesh.peerId), false, 'a and c never talked directly');
});
