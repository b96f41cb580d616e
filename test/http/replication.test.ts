// PouchDB's replicator between a local PouchDB (LevelDB in a temp dir) and Refuge over HTTP:
// one-way both ways, live sync with edits on both sides and a conflict, then identical revision
// trees, winners and conflicts on both sides; resolving the conflict; deletions replicate.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, localPouch, revisionTrees, type Pouch } from './pouchdb.ts';
import { startTestServer, type TestServer } from './server.ts';

/** Polls until both replicas hold the same revision trees (bounded); returns the trees. */
async function converged(a: Pouch, b: Pouch, ms = 10_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const [ta, tb] = await Promise.all([revisionTrees(a), revisionTrees(b)]);
    try {
      assert.deepEqual(ta, tb);
      return ta;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function assertSame(a: Pouch, b: Pouch): Promise<Record<string, unknown>> {
  const [ta, tb] = await Promise.all([revisionTrees(a), revisionTrees(b)]);
  assert.deepEqual(ta, tb);
  return ta;
}

describe('PouchDB replication with Refuge (LevelDB engine)', () => {
  let server: TestServer;
  let Local: any;
  let cleanupLocal: () => Promise<void>;
  const opened: Pouch[] = [];
  const open = (db: Pouch) => (opened.push(db), db);

  before(async () => {
    server = await startTestServer({ engine: 'leveldb' });
    ({ Local, cleanup: cleanupLocal } = await localPouch());
  });
  after(async () => {
    for (const db of opened) await db.close();
    await server.close();
    await cleanupLocal();
  });

  test('replicate.to: local history, conflicts and deletions reach Refuge', async () => {
    const local = open(new Local('to-local'));
    const remote = open(new PouchDB(`${server.url}/to-remote`));
    await local.bulkDocs(Array.from({ length: 30 }, (_, i) => ({ _id: `d${String(i).padStart(2, '0')}`, i, nested: { list: [i, `s${i}`] } })));
    const d0 = await local.get('d00');
    const e1 = await local.put({ ...d0, edited: 1 });
    await local.put({ ...d0, _rev: e1.rev, edited: 2 });
    await local.remove(await local.get('d01'));
    await local.bulkDocs([{ _id: 'd02', _rev: '1-' + 'f'.repeat(32), side: 'other' }], { new_edits: false });
    await local.put({ _id: '_local/skip', x: 1 });
    const res = await local.replicate.to(remote);
    assert.equal(res.ok, true);
    assert.equal(res.doc_write_failures, 0);
    const trees = await assertSame(local, remote);
    assert.equal(Object.keys(trees).length, 30);
    assert.equal((trees.d01 as { deleted: boolean }).deleted, true);
    assert.equal((trees.d02 as { conflicts: string[] }).conflicts.length, 1);
    await assert.rejects(remote.get('_local/skip'), (err: any) => err.status === 404);
    // A second run finds nothing to do (the checkpoint on Refuge's _local doc is used).
    const again = await local.replicate.to(remote);
    assert.equal(again.docs_written, 0);
  });

  test('replicate.from: Refuge to a fresh local PouchDB', async () => {
    const remote = open(new PouchDB(`${server.url}/from-remote`));
    const local = open(new Local('from-local'));
    await remote.bulkDocs(Array.from({ length: 25 }, (_, i) => ({ _id: `r${i}`, v: i })));
    const r3 = await remote.get('r3');
    await remote.put({ ...r3, v: 'changed' });
    await remote.remove(await remote.get('r4'));
    await remote.bulkDocs(
      [
        { _id: 'r5', _rev: '2-' + 'e'.repeat(32), _revisions: { start: 2, ids: ['e'.repeat(32), 'd'.repeat(32)] }, v: 'branch' },
      ],
      { new_edits: false },
    );
    // In batches of 10, PouchDB reports the `pending` of each _changes answer: its progress.
    const pending: number[] = [];
    const res = await local.replicate.from(remote, { batch_size: 10 }).on('change', (info: { pending?: number }) => pending.push(info.pending!));
    assert.equal(res.ok, true);
    assert.equal(res.doc_write_failures, 0);
    assert.deepEqual(pending, [15, 5, 0]);
    const trees = await assertSame(local, remote);
    assert.equal((trees.r4 as { deleted: boolean }).deleted, true);
    assert.equal((trees.r5 as { rev: string }).rev, '2-' + 'e'.repeat(32));
    assert.equal((trees.r5 as { conflicts: string[] }).conflicts.length, 1);
  });

  test('live sync with edits on both sides and a concurrent edit converges; resolving the conflict syncs', async () => {
    const local = open(new Local('sync-local'));
    const remote = open(new PouchDB(`${server.url}/sync-remote`));
    const base = await local.put({ _id: 'shared', v: 0 });
    await local.bulkDocs([{ _id: 'gone', v: 1 }, { _id: 'keep', v: 1 }]);
    await local.replicate.to(remote);

    // Both sides edit the same document while not syncing: a conflict once they meet.
    await local.put({ _id: 'shared', _rev: base.rev, v: 'local' });
    await remote.put({ _id: 'shared', _rev: base.rev, v: 'remote' });

    const errors: unknown[] = [];
    const sync = local.sync(remote, { live: true, retry: false });
    sync.on('error', (err: unknown) => errors.push(err));
    sync.on('denied', (err: unknown) => errors.push(err));
    const complete = new Promise((resolve) => sync.on('complete', resolve));
    try {
      await local.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `l${i}`, from: 'local' })));
      await remote.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `r${i}`, from: 'remote' })));
      await remote.remove(await remote.get('gone'));
      const keep = await local.get('keep');
      await local.put({ ...keep, v: 2 });
      const trees = await converged(local, remote);
      const shared = trees.shared as { rev: string; conflicts: string[]; leaves: unknown[] };
      assert.equal(shared.leaves.length, 2);
      assert.equal(shared.conflicts.length, 1);
      assert.equal((trees.gone as { deleted: boolean }).deleted, true);
      assert.equal(Object.keys(trees).length, 43);
      await assert.rejects(local.get('gone'), (err: any) => err.status === 404);

      // Resolve on the local side only: delete the losing leaf; the live sync carries it over.
      const winner = await local.get('shared', { conflicts: true });
      assert.equal(winner._id, 'shared');
      for (const loser of winner._conflicts) await local.remove('shared', loser);
      const resolved = await converged(local, remote);
      assert.deepEqual((resolved.shared as { conflicts: string[] }).conflicts, []);
      const remoteShared = await remote.get('shared', { conflicts: true });
      assert.equal(remoteShared._conflicts, undefined);
      assert.equal(remoteShared._rev, winner._rev);
    } finally {
      sync.cancel();
      await complete;
    }
    assert.deepEqual(errors, []);
    // One more one-shot sync after cancelling has nothing left to move.
    const final = await local.sync(remote);
    assert.equal(final.push.docs_written + final.pull.docs_written, 0);
    await assertSame(local, remote);
  });

  test('conflict resolved on one side reaches the other through one-shot sync', async () => {
    const local = open(new Local('resolve-local'));
    const remote = open(new PouchDB(`${server.url}/resolve-remote`));
    const leaves = ['a', 'b', 'c'].map((c) => ({ _id: 'multi', _rev: '1-' + c.repeat(32), side: c }));
    await remote.bulkDocs(leaves, { new_edits: false });
    await local.sync(remote);
    const before = await local.get('multi', { conflicts: true });
    assert.equal(before._rev, '1-' + 'c'.repeat(32));
    assert.equal(before._conflicts.length, 2);
    // Resolve on Refuge's side by deleting every losing revision, then sync.
    for (const rev of before._conflicts) await remote.remove('multi', rev);
    await local.sync(remote);
    const trees = await assertSame(local, remote);
    assert.deepEqual((trees.multi as { conflicts: string[] }).conflicts, []);
    assert.equal((trees.multi as { leaves: unknown[] }).leaves.length, 3);
    const after = await local.get('multi', { conflicts: true });
    assert.equal(after._conflicts, undefined);
    // Deleting the winner too: the document is deleted on both sides.
    await local.remove(after);
    await local.sync(remote);
    await assert.rejects(remote.get('multi'), (err: any) => err.status === 404 && err.reason === 'deleted');
    await assertSame(local, remote);
  });
});
