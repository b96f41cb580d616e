// Opportunistic replication: two nodes that share a database by grants converge as soon as they
// connect, stop pulling when the other goes down, and resume from their checkpoints when it returns.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoSync, addPeer, setGrant, type AutoSyncEvents, type TrustState } from '../../src/mesh/index.ts';
import { assertSameTrees } from '../replication/helpers/trees.ts';
import { nextEvent, startPeerNode, type PeerNode } from './helpers.ts';

const share = (peer: string, dbs: string[]) => (s: TrustState) => {
  let next = addPeer(s, { id: peer, groups: ['team'] });
  for (const db of dbs) for (const access of ['read', 'write'] as const) next = setGrant(next, db, access, 'group:team', true);
  return next;
};

/** Resolves when `sync` has caught up (without error) on its pull of `db` from `peer`. */
const caughtUp = (sync: AutoSync, peer: PeerNode, db: string): Promise<AutoSyncEvents['paused']> =>
  nextEvent(sync, 'paused', (e) => e.peerId === peer.mesh.peerId && e.db === db && e.error === undefined);

test('trusted peers that share databases replicate both ways when they meet, and stop when apart', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const syncA = new AutoSync({ mesh: a.mesh, node: a.node, replicate: { checkpointInterval: 0 } });
  const syncB = new AutoSync({ mesh: b.mesh, node: b.node, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await Promise.all([syncA.stop(), syncB.stop()]);
    await Promise.all([a.close(), b.close()]);
  });
  // Shared: notes. Only a shares "a-only" (b does not accept it), and "private" is shared by nobody.
  await a.trust.update(share(b.mesh.peerId, ['notes', 'a-only']));
  await b.trust.update(share(a.mesh.peerId, ['notes']));
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes')]);
  await Promise.all([a.node.createDb('a-only'), b.node.createDb('a-only'), a.node.createDb('private'), b.node.createDb('private')]);
  const base = await na.put({ _id: 'shared', v: 'base' });
  await nb.bulkDocs([{ ...(await na.get('shared', { revs: true })) }], { newEdits: false });
  await na.put({ _id: 'shared', _rev: base.rev, v: 'from a' });
  await nb.put({ _id: 'shared', _rev: base.rev, v: 'from b' });
  await na.put({ _id: 'a1' });
  await nb.put({ _id: 'b1' });
  await (await a.node.db('a-only')).put({ _id: 'not-for-b' });

  const bothCaughtUp = Promise.all([caughtUp(syncA, b, 'notes'), caughtUp(syncB, a, 'notes')]);
  await b.mesh.connect(a.mesh.invite());
  await bothCaughtUp;
  assert.equal(await assertSameTrees(na, nb), 3);
  assert.equal(((await na.get('shared', { conflicts: true }))._conflicts as string[]).length, 1);
  assert.deepEqual(syncA.active(), [{ peerId: b.mesh.peerId, db: 'notes' }]);
  assert.deepEqual(syncB.active(), [{ peerId: a.mesh.peerId, db: 'notes' }]);
  assert.equal((await (await b.node.db('a-only')).info()).docCount, 0, 'b accepts only what it granted a to write');

  // Apart: the pulls stop; edits made meanwhile arrive when the peers meet again.
  const stopped = Promise.all([nextEvent(syncA, 'stop'), nextEvent(syncB, 'stop')]);
  await b.mesh.disconnect(a.mesh.peerId);
  for (const e of await stopped) assert.equal(e.error, undefined);
  assert.deepEqual([...syncA.active(), ...syncB.active()], []);
  await na.put({ _id: 'a2' });
  await nb.put({ _id: 'b2' });
  const again = Promise.all([caughtUp(syncA, b, 'notes'), caughtUp(syncB, a, 'notes')]);
  await b.mesh.connect(a.mesh.invite());
  const [pa, pb] = await again;
  assert.equal(await assertSameTrees(na, nb), 5);
  assert.equal(pa.progress.docsWritten + pb.progress.docsWritten, 2, 'resumed from the checkpoints: only the new edits moved');
});
