// Opportunistic replication: two nodes that share a database by grants converge as soon as they
// connect, stop pulling when the other goes down, and resume from their checkpoints when it returns.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoSync, addPeer, meshRequest, removePeer, setGrant, type AutoSyncEvents, type TrustState } from '../../src/mesh/index.ts';
import { assertSameTrees } from '../replication/helpers/trees.ts';
import { nextEvent, startPeerNode, tempDir, type PeerNode } from './helpers.ts';

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

test('a pull holds its database only while the peer is up: apart, a node keeps maxOpenDbs open', async (t) => {
  const [da, db] = await Promise.all([tempDir(), tempDir()]);
  const a = await startPeerNode({ dataDir: da.path, maxOpenDbs: 1 });
  const b = await startPeerNode({ dataDir: db.path, maxOpenDbs: 1 });
  const syncA = new AutoSync({ mesh: a.mesh, node: a.node, replicate: { checkpointInterval: 0 } });
  const syncB = new AutoSync({ mesh: b.mesh, node: b.node, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await Promise.all([syncA.stop(), syncB.stop()]);
    await Promise.all([a.close(), b.close()]);
    await Promise.all([da.cleanup(), db.cleanup()]);
  });
  const names = ['n1', 'n2', 'n3'];
  await a.trust.update(share(b.mesh.peerId, names));
  await b.trust.update(share(a.mesh.peerId, names));
  for (const name of names) {
    await a.node.createDb(name, { hold: false });
    await b.node.createDb(name, { hold: false });
    const lease = await a.node.lease(name);
    await lease.db.put({ _id: `from-a-${name}` });
    lease.release();
  }
  const caught = Promise.all(names.map((n) => caughtUp(syncB, a, n)));
  await b.mesh.connect(a.mesh.invite());
  await caught;
  assert.ok(b.node.openDbCount >= 3, 'every pulled database is held while its pull runs');
  const stops = Promise.all(names.flatMap((n) => [nextEvent(syncA, 'stop', (e) => e.db === n), nextEvent(syncB, 'stop', (e) => e.db === n)]));
  await b.mesh.disconnect(a.mesh.peerId);
  await stops;
  assert.deepEqual([...syncA.active(), ...syncB.active()], []);
  // Each side also ends the requests the other had in flight (a long-poll aborted by the closed
  // stream) a moment after the pulls stop: waited for as a condition, with a deadline.
  const deadline = Date.now() + 5000;
  while ((a.node.openDbCount > 1 || b.node.openDbCount > 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(b.node.openDbCount <= 1, `${b.node.openDbCount} open on b once apart`);
  assert.ok(a.node.openDbCount <= 1, `${a.node.openDbCount} open on a once apart`);
  for (const name of names) {
    const lease = await b.node.lease(name);
    assert.equal((await lease.db.get(`from-a-${name}`))._id, `from-a-${name}`);
    lease.release();
  }
});

test('trust changed while peers are up takes effect at once: a revoked grant stops the pull, a removed peer goes down', async (t) => {
  const a = await startPeerNode({ trustCheckMs: 20 });
  const b = await startPeerNode({ trustCheckMs: 20 });
  const syncA = new AutoSync({ mesh: a.mesh, node: a.node, replicate: { checkpointInterval: 0 } });
  const syncB = new AutoSync({ mesh: b.mesh, node: b.node, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await Promise.all([syncA.stop(), syncB.stop()]);
    await Promise.all([a.close(), b.close()]);
  });
  await a.trust.update(share(b.mesh.peerId, ['notes']));
  await b.trust.update(share(a.mesh.peerId, ['notes']));
  const [na, nb] = await Promise.all([a.node.createDb('notes'), b.node.createDb('notes')]);
  await Promise.all([a.node.createDb('later'), b.node.createDb('later')]);
  await nb.put({ _id: 'before' });
  const caught = caughtUp(syncA, b, 'notes');
  await b.mesh.connect(a.mesh.invite());
  await caught;
  assert.equal((await na.info()).docCount, 1);

  // A grant given while the peer is up: its database is pulled without a reconnection.
  const later = caughtUp(syncA, b, 'later');
  await (await b.node.db('later')).put({ _id: 'shared-later' });
  await a.trust.update(share(b.mesh.peerId, ['later']));
  await b.trust.update(share(a.mesh.peerId, ['later']));
  await later;
  assert.equal((await (await a.node.db('later')).info()).docCount, 1);

  // a takes back b's right to write notes: a's pull of notes ends and b's edits stay on b.
  // (The pulls start again under the new grants: later resumes, notes does not.)
  const notesStopped = nextEvent(syncA, 'stop', (e) => e.db === 'notes');
  const laterAgain = nextEvent(syncA, 'start', (e) => e.db === 'later');
  await a.trust.update((s) => setGrant(s, 'notes', 'write', 'group:team', false));
  await Promise.all([notesStopped, laterAgain]);
  assert.deepEqual(syncA.active().map((p) => p.db), ['later']);
  await nb.put({ _id: 'after-revoke' });
  await assert.rejects(na.get('after-revoke'), { code: 'not_found' });

  // a removes b: b goes down for a at once, and nothing of b's is pulled any more.
  const down = nextEvent(a.mesh, 'peer:down', (e) => e.peerId === b.mesh.peerId);
  await a.trust.update((s) => removePeer(s, b.mesh.peerId));
  await down;
  assert.deepEqual(syncA.active(), []);
});

test('databases created after the peers met, on either side (made on the other when missing), and one re-created on the source, are pulled at the next rescan', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const syncA = new AutoSync({ mesh: a.mesh, node: a.node, rescanMs: 20, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await syncA.stop();
    await Promise.all([a.close(), b.close()]);
  });
  await a.trust.update(share(b.mesh.peerId, ['late-source', 'late-target']));
  await b.trust.update(share(a.mesh.peerId, ['late-source', 'late-target']));
  await b.mesh.connect(a.mesh.invite());
  // Caught up after writing at least one document (a pull may start before the write it waits for).
  const arrived = (db: string) => nextEvent(syncA, 'paused', (e) => e.db === db && !e.error && e.progress.docsWritten > 0);

  // Shared by b after the peers met, and a has no such database: a makes it (it lets b write there).
  const one = arrived('late-target');
  await (await b.node.createDb('late-target')).put({ _id: 'one' });
  await one;
  assert.equal((await (await a.node.db('late-target')).get('one'))._id, 'one');

  // The source appears on b after the peers met.
  await a.node.createDb('late-source');
  const two = arrived('late-source');
  await (await b.node.createDb('late-source')).put({ _id: 'two' });
  await two;
  assert.equal((await (await a.node.db('late-source')).get('two'))._id, 'two');

  // The source is deleted on b (its pull ends with an error) and made again: the pull starts over.
  const failed = nextEvent(syncA, 'stop', (e) => e.db === 'late-source' && e.error !== undefined);
  await b.node.deleteDb('late-source');
  await failed;
  const three = arrived('late-source');
  await (await b.node.createDb('late-source')).put({ _id: 'three' });
  await three;
  assert.equal((await (await a.node.db('late-source')).get('three'))._id, 'three');
});

test('a node tells its up peers when it makes or grants a database they share: they pull it at once, not at their next periodic look', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const stranger = await startPeerNode();
  // Periodic looks far away: only b's word can start a's pulls within the test.
  const syncA = new AutoSync({ mesh: a.mesh, node: a.node, rescanMs: 3_600_000, replicate: { checkpointInterval: 0 } });
  const syncB = new AutoSync({ mesh: b.mesh, node: b.node, rescanMs: 3_600_000, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await Promise.all([syncA.stop(), syncB.stop()]);
    await Promise.all([a.close(), b.close(), stranger.close()]);
  });
  await a.trust.update(share(b.mesh.peerId, ['base', 'made-later', 'granted-later']));
  await b.trust.update(share(a.mesh.peerId, ['base', 'made-later']));
  await Promise.all([a.node.createDb('base'), b.node.createDb('base')]);
  // Each side has listed what the other shares once the pulls of `base` caught up.
  const listed = Promise.all([caughtUp(syncA, b, 'base'), caughtUp(syncB, a, 'base')]);
  await b.mesh.connect(a.mesh.invite());
  await listed;
  const arrived = (db: string) => nextEvent(syncA, 'paused', (e) => e.db === db && !e.error && e.progress.docsWritten > 0);

  // Made on b after the peers met (a has no such database yet, and makes it).
  const made = arrived('made-later');
  await (await b.node.createDb('made-later')).put({ _id: 'one' });
  await made;
  assert.equal((await (await a.node.db('made-later')).get('one'))._id, 'one');

  // Granted by b after the peers met.
  await (await b.node.createDb('granted-later')).put({ _id: 'two' });
  const granted = arrived('granted-later');
  await b.trust.update(share(a.mesh.peerId, ['made-later', 'granted-later']));
  await granted;
  assert.equal((await (await a.node.db('granted-later')).get('two'))._id, 'two');

  // A peer a does not trust cannot make it look (and send it requests).
  await stranger.mesh.connect(a.mesh.invite());
  const answer = await meshRequest(stranger.mesh, a.mesh.peerId, { op: 'rescan' }, { timeoutMs: 10_000 }).catch((err: unknown) => err);
  assert.equal((answer as { code?: string }).code, 'forbidden');
});

test('a shared database this node lacks is created when it lets the peer write there, and only then; createDbs: false never creates', async (t) => {
  const a = await startPeerNode();
  const b = await startPeerNode();
  const c = await startPeerNode();
  const syncA = new AutoSync({ mesh: a.mesh, node: a.node, replicate: { checkpointInterval: 0 } });
  const syncC = new AutoSync({ mesh: c.mesh, node: c.node, createDbs: false, rescanMs: 20, replicate: { checkpointInterval: 0 } });
  t.after(async () => {
    await Promise.all([syncA.stop(), syncC.stop()]);
    await Promise.all([a.close(), b.close(), c.close()]);
  });
  // b shares two databases with a and c; a accepts writes from b to "notes" only, c to both.
  await b.trust.update((s) => share(c.mesh.peerId, ['notes', 'photos'])(share(a.mesh.peerId, ['notes', 'photos'])(s)));
  await a.trust.update(share(b.mesh.peerId, ['notes']));
  await a.trust.update((s) => setGrant(s, 'photos', 'read', 'group:team', true));
  await c.trust.update(share(b.mesh.peerId, ['notes', 'photos']));
  await (await b.node.createDb('notes')).put({ _id: 'n' });
  await (await b.node.createDb('photos')).put({ _id: 'p' });

  const arrived = caughtUp(syncA, b, 'notes');
  const listedByC = nextEvent(c.mesh, 'peer:up', (e) => e.peerId === b.mesh.peerId);
  await Promise.all([a.mesh.connect(b.mesh.invite()), c.mesh.connect(b.mesh.invite())]);
  await arrived;
  assert.equal((await (await a.node.db('notes')).get('n'))._id, 'n');
  assert.equal(await a.node.exists('photos'), false, 'a reads photos from b but never let b write it');
  assert.deepEqual(syncA.active().map((p) => p.db), ['notes']);

  // c made neither database: nothing is created, however often it looks; once it makes one, it pulls.
  await listedByC;
  const made = caughtUp(syncC, b, 'photos');
  await c.node.createDb('photos');
  await made;
  assert.equal((await (await c.node.db('photos')).get('p'))._id, 'p');
  assert.equal(await c.node.exists('notes'), false);
});
