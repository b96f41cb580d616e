// Checkpoint logic in isolation: CouchDB's choice of the resume sequence from two replication logs,
// the bounded history, the replication id's inputs, a target restored from an older backup, and a
// source that cannot keep a log (read-only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/core.ts';
import { LocalPeer, compareReplicationLogs, replicate, replicationId, type HistoryEntry, type ReplicationLog } from '../../src/replication/index.ts';
import { HISTORY_LIMIT } from '../../src/replication/checkpoint.ts';
import { OrderedSeqs } from '../../src/replication/ordered-seqs.ts';
import { RefugeError } from '../../src/errors/index.ts';
import { freshDb } from '../helpers/db.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

const entry = (session: string, seq: number | string): HistoryEntry => ({
  session_id: session,
  recorded_seq: seq,
  start_time: '',
  end_time: '',
  start_last_seq: 0,
  end_last_seq: seq,
  missing_checked: 0,
  missing_found: 0,
  docs_read: 0,
  docs_written: 0,
  doc_write_failures: 0,
});
const log = (session: string, seq: number | string, history: HistoryEntry[]): ReplicationLog => ({ session_id: session, source_last_seq: seq, history });

test('compareReplicationLogs follows CouchDB', () => {
  const h1 = entry('s1', 10);
  const h2 = entry('s2', '20-opaque');
  assert.deepEqual(compareReplicationLogs(undefined, log('s1', 10, [h1])), { seq: 0, history: [] });
  assert.deepEqual(compareReplicationLogs(log('s1', 10, [h1]), undefined), { seq: 0, history: [] });
  // Same last session: its seq, and the source's history continues.
  assert.deepEqual(compareReplicationLogs(log('s2', '20-opaque', [h2, h1]), log('s2', '20-opaque', [h2, h1])), { seq: '20-opaque', history: [h2, h1] });
  // Different last sessions: the newest session both recorded.
  const h3 = entry('s3', 30);
  const h4 = entry('s4', 40);
  assert.deepEqual(compareReplicationLogs(log('s3', 30, [h3, h2, h1]), log('s4', 40, [h4, h2, h1])), { seq: '20-opaque', history: [h1] });
  assert.deepEqual(compareReplicationLogs(log('s3', 30, [h3, h1]), log('s1', 10, [h1])), { seq: 10, history: [] });
  // Nothing in common: from the start.
  assert.deepEqual(compareReplicationLogs(log('s3', 30, [h3]), log('s4', 40, [h4])), { seq: 0, history: [] });
});

test('OrderedSeqs only advances over a finished prefix', () => {
  const seqs = new OrderedSeqs();
  const one = seqs.add('1-x');
  const two = seqs.add('2-y');
  const three = seqs.add(3);
  two.finish();
  assert.equal(seqs.completed, undefined);
  one.finish();
  assert.equal(seqs.completed, '2-y');
  three.finish();
  assert.equal(seqs.completed, 3);
  assert.equal(seqs.unfinished, 0);
});

test('replication ids depend on both ends and on the filter, not on option noise', async (t) => {
  const a = await freshDb('memory', {}, 'same');
  const b = await freshDb('memory', {}, 'same');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  const pa = new LocalPeer(a.db);
  const pb = new LocalPeer(b.db);
  const push = await replicationId(pa, pb, {});
  assert.match(push, /^[0-9a-f]{32}$/);
  assert.notEqual(await replicationId(pb, pa, {}), push, 'two databases with one name are still two ends');
  assert.equal(await replicationId(new LocalPeer(a.db), new LocalPeer(b.db), {}), push);
  assert.notEqual(await replicationId(pa, pb, { docIds: ['x'] }), push);
  assert.notEqual(await replicationId(pa, pb, { selector: { a: 1 } }), push);
  assert.equal(await replicationId(pa, pb, { selector: { a: 1, b: 2 } }), await replicationId(pa, pb, { selector: { b: 2, a: 1 } }));
});

test('a target restored from an older backup resumes from the last session both sides know', async (t) => {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  const add = (db: Database, from: number, n: number) => db.bulkDocs(Array.from({ length: n }, (_, i) => ({ _id: `d${from + i}` })));
  await add(a.db, 0, 10);
  const first = await replicate(a.db, b.db).done;
  const cpId = `_local/${first.replicationId}`;
  const oldTargetLog = await b.db.get(cpId);
  await add(a.db, 10, 10);
  const second = await replicate(a.db, b.db).done;
  assert.deepEqual(second.startSeq, 10);
  // Put the target's checkpoint back as it was after the first session.
  const current = await b.db.get(cpId);
  await b.db.putLocal({ ...oldTargetLog, _rev: current._rev });
  const third = await replicate(a.db, b.db).done;
  assert.deepEqual(third.startSeq, first.lastSeq, 'the first session is the newest one both logs hold');
  const history = ((await a.db.get(cpId)) as ReplicationLog).history!;
  // As in CouchDB, the history continues from the entries older than the common session.
  assert.deepEqual(history.map((h) => h.session_id), [third.sessionId]);
});

test('history is bounded to CouchDB’s 50 sessions', async (t) => {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  let id = '';
  for (let i = 0; i < HISTORY_LIMIT + 3; i++) {
    await a.db.put({ _id: `d${i}` });
    id = (await replicate(a.db, b.db).done).replicationId!;
  }
  const history = ((await b.db.get(`_local/${id}`)) as ReplicationLog).history!;
  assert.equal(history.length, HISTORY_LIMIT);
  assert.deepEqual(history[0]!.recorded_seq, HISTORY_LIMIT + 3);
});

test('a read-only source resumes from the target’s log; a writable one that lost its log starts over', async (t) => {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  await a.db.bulkDocs(Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}` })));
  // The replicating user may read the source but not write its _local documents (a 403).
  const readOnly = () => {
    const peer = wrapPeer(new LocalPeer(a.db));
    peer.putLocal = async () => {
      throw new RefugeError('forbidden', 'read only');
    };
    return peer;
  };
  const first = await replicate(readOnly(), b.db).done;
  assert.equal(first.checkpointedSeq, 20);
  const cpId = `_local/${first.replicationId}`;
  await assert.rejects(a.db.get(cpId), { code: 'not_found' });
  await a.db.put({ _id: 'new' });
  const source = readOnly();
  const second = await replicate(source, b.db).done;
  assert.equal(second.startSeq, 20, 'from the target’s log, as PouchDB does');
  assert.equal(source.rowsServed, 1);
  assert.deepEqual(((await b.db.get(cpId)) as ReplicationLog).history!.map((h) => h.session_id), [second.sessionId, first.sessionId]);
  // A writable source without a log is not one that cannot keep one: it lost it (a new database).
  const third = await replicate(a.db, b.db).done;
  assert.equal(third.startSeq, 0);
});
