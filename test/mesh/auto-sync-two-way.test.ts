// AutoSync both ways: peers that edited the same and different documents while apart converge when
// they meet again (same trees, same winners, conflicts kept); a read-only grant means pull, never push.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoSync, CHANGES_FEED_PROTOCOL, REPLICATION_PROTOCOL, REPLICATION_PROTOCOL_MANY, ReplicationService, addPeer, setGrant, type AutoSyncEvents, type TrustState } from '../../src/mesh/index.ts';
import { assertSameTrees } from '../replication/helpers/trees.ts';
import { nextEvent, startPeerNode, type PeerNode } from './helpers.ts';

const grant = (peer: string, access: Array<'read' | 'write'>) => (s: TrustState) => {
  let next = addPeer(s, { id: peer });
  for (const a of access) next = setGrant(next, 'notes', a, `peer:${peer}`, true);
  return next;
};

const caughtUp = (sync: AutoSync, peer: PeerNode): Promise<AutoSyncEvents['paused']> =>
  nextEvent(sync, 'paused', (e) => e.peerId === peer.mesh.peerId && e.db === 'notes' && e.error === undefined);

async function pair(t: { after(fn: () => Promise<void>): void }) {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const syncA = new AutoSync({ mesh: a.mesh, node: a.node, replicate: { checkpointInterval: 0 } });
  const syncB = new AutoSync({ mesh: b.mesh, node: b.node, replicate: { checkpointInterval: 0 } });
  const errors: unknown[] = [];
  for (const s of [syncA, syncB]) {
    s.on('paused', (e) => e.error && errors.push(e.error));
    s.on('stop', (e) => e.error && errors.push(e.error));
  }
  t.after(async () => {
    await Promise.all([syncA.stop(), syncB.stop()]);
    await Promise.all([a.close(), b.close()]);
  });
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes')]);
  return { a, b, syncA, syncB, na, nb, errors };
}

test('edits made on both sides while apart converge both ways when the peers meet again', async (t) => {
  const { a, b, syncA, syncB, na, nb, errors } = await pair(t);
  await a.trust.update(grant(b.mesh.peerId, ['read', 'write']));
  await b.trust.update(grant(a.mesh.peerId, ['read', 'write']));
  const base = await na.put({ _id: 'shared', v: 'base' });
  const met = Promise.all([caughtUp(syncA, b), caughtUp(syncB, a)]);
  await b.mesh.connect(a.mesh.invite());
  await met;
  assert.equal(await assertSameTrees(na, nb), 1);

  const apart = Promise.all([nextEvent(syncA, 'stop'), nextEvent(syncB, 'stop')]);
  await b.mesh.disconnect(a.mesh.peerId);
  await apart;
  // A pull waiting on its peer's changes feed when the link is cut may see the stream end before
  // the peer is reported down, and says so (paused, with the error) before it stops: not a failure
  // of the sync. Every error from here on is one.
  errors.length = 0;
  const onA = await na.put({ _id: 'shared', _rev: base.rev, v: 'a' });
  await na.put({ _id: 'shared', _rev: onA.rev, v: 'a, twice' });
  await nb.put({ _id: 'shared', _rev: base.rev, v: 'b' });
  await na.put({ _id: 'only-a' });
  const gone = await nb.put({ _id: 'only-b' });
  await nb.remove('only-b', gone.rev);
  await nb.put({ _id: 'only-b2' });

  const again = Promise.all([caughtUp(syncA, b), caughtUp(syncB, a)]);
  await a.mesh.connect(b.mesh.invite());
  const [pa, pb] = await again;
  assert.equal(pa.progress.docsWritten, 3, 'a pulled b\'s edits: shared, only-b (deleted), only-b2');
  assert.equal(pb.progress.docsWritten, 2, 'b pulled a\'s edits: shared, only-a');
  assert.equal(await assertSameTrees(na, nb), 4);
  for (const db of [na, nb]) {
    const doc = await db.get('shared', { conflicts: true });
    assert.equal(doc.v, 'a, twice', 'the same winner on both sides');
    assert.equal((doc._conflicts as string[]).length, 1, 'the losing edit is kept as a conflict');
  }
  assert.deepEqual(errors, []);
});

test('a peer granted read only pulls, and never writes to the node that granted it', async (t) => {
  const { a, b, syncA, syncB, na, nb, errors } = await pair(t);
  // a lets b read its notes, not write them; b lets a do both (a still accepts nothing from b).
  await a.trust.update(grant(b.mesh.peerId, ['read']));
  await b.trust.update(grant(a.mesh.peerId, ['read', 'write']));
  const ops: string[] = [];
  const service = new ReplicationService({ node: a.node, trust: a.trust });
  const answer = service.answer.bind(service);
  service.answer = (peerId, request, signal) => (ops.push(String((request as { op?: unknown }).op)), answer(peerId, request, signal));
  await a.mesh.handle(REPLICATION_PROTOCOL, service.handler);
  await a.mesh.handle(REPLICATION_PROTOCOL_MANY, service.manyHandler);
  await a.mesh.handle(CHANGES_FEED_PROTOCOL, service.feedHandler);

  await na.put({ _id: 'from-a' });
  await nb.put({ _id: 'from-b' });
  const pulled = caughtUp(syncB, a);
  await b.mesh.connect(a.mesh.invite());
  const { progress } = await pulled;
  assert.equal(progress.docsWritten, 1);
  await nb.get('from-a');
  await assert.rejects(na.get('from-b'), /missing|not_found|deleted/i);
  assert.deepEqual(syncB.active(), [{ peerId: a.mesh.peerId, db: 'notes' }]);
  assert.deepEqual(syncA.active(), [], 'a accepts no writes from b, so it pulls nothing');
  assert.ok(ops.includes('changes'));
  assert.ok(!ops.includes('bulkDocs'), `b never pushed: ${ops.join(',')}`);
  assert.deepEqual(errors, []);
});
