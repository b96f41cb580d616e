// A database deleted and created again under a running replication (or its log gone, or another
// run's in its place): the checkpoint is refused, and the replication starts again from the logs,
// as CouchDB's job restarts (checkpoint_commit_failure), so nothing of the new database is skipped
// and nothing is left out of a new target. Restarts are visible ('restart') and bounded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database, Doc } from '../../src/core.ts';
import { RefugeError, conflict, isRefugeError } from '../../src/errors/index.ts';
import { HttpPeer, LocalPeer, replicate, type Replication, type ReplicationPeer, type Seq } from '../../src/replication/index.ts';
import { MAX_RESTARTS } from '../../src/replication/replicator.ts';
import { freshDb } from '../helpers/db.ts';
import { request, startTestServer } from '../http/server.ts';
import { nextEvent } from './helpers/events.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

type Cleanup = { after: (fn: () => Promise<void>) => void };

async function open(t: Cleanup, name: string): Promise<Database> {
  const opened = await freshDb('memory', {}, name);
  t.after(opened.cleanup);
  return opened.db;
}

/** A peer whose database can be replaced under the same name, as a server's can be deleted and created again. */
function replaceable(first: Database): { peer: ReplicationPeer; replace(db: Database): void } {
  let inner = new LocalPeer(first, { identity: `replaceable:${first.name}` });
  const peer = new Proxy({} as ReplicationPeer, {
    get: (_, key: keyof LocalPeer) => {
      const value = inner[key];
      return typeof value === 'function' ? value.bind(inner) : value;
    },
  });
  return { peer, replace: (db) => (inner = new LocalPeer(db, { identity: `replaceable:${first.name}` })) };
}

const ids = async (db: Database): Promise<string[]> => (await db.allDocs()).rows.map((r) => r.key);
const checkpointAt = (rep: Replication, seq: Seq) => nextEvent(rep, 'checkpoint', (p) => String(p.checkpointedSeq) === String(seq));
const docs = (prefix: string, n: number): Doc[] => Array.from({ length: n }, (_, i) => ({ _id: `${prefix}${i}` }));
const stop = async (rep: Replication) => {
  rep.cancel();
  await rep.done;
};

test('a target deleted and created again under a continuous replication gets every document again', async (t) => {
  const a = await open(t, 'a');
  const target = replaceable(await open(t, 'b'));
  await a.bulkDocs(docs('old', 5));
  const rep = replicate(new LocalPeer(a), target.peer, { continuous: true });
  try {
    const restarts: RefugeError[] = [];
    rep.on('restart', (e) => restarts.push(e.error));
    await checkpointAt(rep, 5);
    const recreated = await open(t, 'b');
    target.replace(recreated);
    const caughtUp = checkpointAt(rep, 6);
    await a.put({ _id: 'later' });
    await caughtUp;
    assert.deepEqual((await ids(recreated)).sort(), ['later', 'old0', 'old1', 'old2', 'old3', 'old4']);
    assert.deepEqual(restarts.map((e) => e.code), ['checkpoint_commit_failure']);
    assert.match(restarts[0]!.reason, /target database was deleted and created again/);
  } finally {
    await stop(rep);
  }
});

for (const readOnly of [false, true]) {
  test(`a source deleted and created again: the replication starts over in the new database${readOnly ? ' (read-only source)' : ''}`, async (t) => {
    const first = await open(t, 'a');
    const source = replaceable(first);
    // Read-only: the target's log is the only one, and names the old database: not resumed from.
    const peer = readOnly ? Object.assign(wrapPeer(source.peer), { putLocal: () => Promise.reject(new RefugeError('forbidden', 'read only')) }) : source.peer;
    const b = await open(t, 'b');
    await first.bulkDocs(docs('old', 5));
    // A short long-poll: the one waiting on the old database ends soon, the next asks the new one.
    const rep = replicate(peer, new LocalPeer(b), { continuous: true, longpollTimeoutMs: 50 });
    try {
      const restarts: RefugeError[] = [];
      rep.on('restart', (e) => restarts.push(e.error));
      await checkpointAt(rep, 5);
      const recreated = await open(t, 'a');
      await recreated.bulkDocs(docs('new', 8));
      const caughtUp = checkpointAt(rep, 8);
      source.replace(recreated);
      await caughtUp;
      // Without the restart, new0..new4 were skipped: the replication went on from its old position (5).
      assert.deepEqual((await ids(b)).filter((id) => id.startsWith('new')).sort(), ['new0', 'new1', 'new2', 'new3', 'new4', 'new5', 'new6', 'new7']);
      assert.equal(restarts.length, 1);
      assert.match(restarts[0]!.reason, /source database was deleted and created again/);
    } finally {
      await stop(rep);
    }
  });
}

// A new database under the old name whose sequences stay below the position the replication had
// reached: its feed answers nothing, so no checkpoint (where the instance was checked) ever came.
for (const tells of ['instance', 'log'] as const) {
  test(`a source created again behind the old position is found out while its feed is quiet (${tells === 'instance' ? 'instance_start_time' : 'instance "0": by its log'})`, async (t) => {
    const first = await open(t, 'a');
    const source = replaceable(first);
    // CouchDB 2+ tells "0" for every database: the log this replication keeps there tells instead.
    const peer =
      tells === 'instance'
        ? source.peer
        : Object.assign(wrapPeer(source.peer), {
            info: async () => ({ ...(await source.peer.info()), instanceStartTime: '0' }),
            ensureFullCommit: async () => (await source.peer.ensureFullCommit!(), '0'),
          });
    const b = await open(t, 'b');
    await first.bulkDocs(docs('old', 5));
    const rep = replicate(peer, new LocalPeer(b), { continuous: true, longpollTimeoutMs: 50 });
    try {
      const restarts: RefugeError[] = [];
      rep.on('restart', (e) => restarts.push(e.error));
      await checkpointAt(rep, 5);
      await nextEvent(rep, 'paused');
      const recreated = await open(t, 'a');
      await recreated.bulkDocs(docs('new', 2));
      const caughtUp = checkpointAt(rep, 2);
      source.replace(recreated);
      await caughtUp;
      assert.deepEqual((await ids(b)).filter((id) => id.startsWith('new')), ['new0', 'new1']);
      assert.equal(restarts.length, 1);
      assert.match(restarts[0]!.reason, tells === 'instance' ? /source database was deleted and created again/ : /checkpoint on the source is gone/);
    } finally {
      await stop(rep);
    }
  });
}

/** Two servers, the source's database `a` holding old0..old4 and the target's `b` empty. */
async function twoServers(t: Cleanup): Promise<{ src: { url: string }; tgt: { url: string } }> {
  const src = await startTestServer();
  t.after(src.close);
  const tgt = await startTestServer();
  t.after(tgt.close);
  await request(`${src.url}/a`, { method: 'PUT' });
  await request(`${tgt.url}/b`, { method: 'PUT' });
  await request(`${src.url}/a/_bulk_docs`, { method: 'POST', body: { docs: docs('old', 5) } });
  return { src, tgt };
}

test('over HTTP: a source deleted and created again behind the old position is replicated from its start', async (t) => {
  const { src, tgt } = await twoServers(t);
  // The new database's feed answers nothing after seq 5. Calls to the source wait while it is
  // missing: a replication that finds it missing fails (not_found), not what this test is about.
  let made = () => {};
  const recreated = new Promise<void>((resolve) => (made = resolve));
  let held = false;
  const source = Object.assign(wrapPeer(new HttpPeer(`${src.url}/a`)), { before: () => (held ? recreated : undefined) });
  const rep = replicate(source, new HttpPeer(`${tgt.url}/b`), { continuous: true, longpollTimeoutMs: 200 });
  // Held from the checkpoint at 5 on (listeners run as the event is emitted): no call reaches the
  // source until it is made again.
  rep.on('checkpoint', (p) => (held ||= String(p.checkpointedSeq) === '5'));
  try {
    await checkpointAt(rep, 5);
    const caughtUp = checkpointAt(rep, 1);
    await request(`${src.url}/a`, { method: 'DELETE' });
    await request(`${src.url}/a`, { method: 'PUT' });
    await request(`${src.url}/a/later`, { method: 'PUT', body: {} });
    made();
    await caughtUp;
    const all = await request(`${tgt.url}/b/_all_docs`);
    assert.deepEqual(all.body.rows.map((r: { id: string }) => r.id), ['later', 'old0', 'old1', 'old2', 'old3', 'old4']);
  } finally {
    await stop(rep);
  }
});

/** CouchDB 1 and PouchDB: a `_local` write must name the stored rev (none for a new document). */
function strictLocalRevs(inner: ReplicationPeer): ReplicationPeer & { lostAnswers: number } {
  const peer = Object.assign(wrapPeer(inner), { lostAnswers: 0 });
  peer.putLocal = async (doc, o) => {
    if ((await inner.getLocal(doc._id!, o))?._rev !== doc._rev) throw conflict();
    const written = await inner.putLocal(doc, o);
    if (peer.lostAnswers > 0 && peer.lostAnswers--) throw new RefugeError('unavailable', 'connection reset (the write landed)');
    return written;
  };
  return peer;
}

test('a checkpoint conflict is accepted only when the stored log is this session’s; otherwise the replication restarts', async (t) => {
  const a = await open(t, 'a');
  const b = await open(t, 'b');
  await a.bulkDocs(docs('d', 5));
  // The answer to a checkpoint write is lost: the retry conflicts with the log it wrote itself.
  const target = strictLocalRevs(new LocalPeer(b));
  target.lostAnswers = 1;
  const once = replicate(new LocalPeer(a), target, { retry: { initialDelayMs: 1, maxDelayMs: 1 } });
  let ownRestarts = 0;
  once.on('restart', () => ownRestarts++);
  const report = await once.done;
  assert.equal(report.checkpointedSeq, 5);
  assert.equal(target.lostAnswers, 0, 'the answer was lost');
  assert.equal(ownRestarts, 0, 'its own log, written over');

  // The log is gone from the target (its database replaced, or the log removed): not written over.
  const rep = replicate(new LocalPeer(a), target, { continuous: true });
  try {
    const restarts: RefugeError[] = [];
    rep.on('restart', (e) => restarts.push(e.error));
    await nextEvent(rep, 'paused');
    const written = checkpointAt(rep, 6);
    await a.put({ _id: 'more' });
    await written;
    await b.putLocal({ _id: `_local/${rep.replicationId}`, _deleted: true });
    const caughtUp = checkpointAt(rep, 7);
    await a.put({ _id: 'again' });
    await caughtUp;
    assert.deepEqual(restarts.map((e) => e.code), ['checkpoint_commit_failure']);
    assert.match(restarts[0]!.reason, /checkpoint on the target is gone/);
    assert.equal((await b.get(`_local/${rep.replicationId}`)).source_last_seq, 7);
  } finally {
    await stop(rep);
  }
});

test('restarts are bounded: a target whose instance changes at every checkpoint fails the replication', async (t) => {
  const a = await open(t, 'a');
  const b = await open(t, 'b');
  await a.bulkDocs(docs('d', 3));
  const target = wrapPeer(new LocalPeer(b));
  let instance = 0;
  target.ensureFullCommit = async () => String(++instance);
  target.info = async () => ({ ...(await new LocalPeer(b).info()), instanceStartTime: String(++instance) });
  const rep = replicate(new LocalPeer(a), target);
  let restarts = 0;
  rep.on('restart', (e) => (restarts = e.restarts));
  await assert.rejects(rep.done, (err) => isRefugeError(err, 'checkpoint_commit_failure'));
  assert.equal(restarts, MAX_RESTARTS);
});

test('over HTTP: a target database deleted and created again is filled again (instance_start_time)', async (t) => {
  const { src, tgt } = await twoServers(t);
  const rep = replicate(new HttpPeer(`${src.url}/a`), new HttpPeer(`${tgt.url}/b`), { continuous: true });
  try {
    await checkpointAt(rep, 5);
    await request(`${tgt.url}/b`, { method: 'DELETE' });
    await request(`${tgt.url}/b`, { method: 'PUT' });
    const caughtUp = checkpointAt(rep, 6);
    await request(`${src.url}/a/later`, { method: 'PUT', body: {} });
    await caughtUp;
    const all = await request(`${tgt.url}/b/_all_docs`);
    assert.deepEqual(all.body.rows.map((r: { id: string }) => r.id), ['later', 'old0', 'old1', 'old2', 'old3', 'old4']);
  } finally {
    await stop(rep);
  }
});
