// Continuous replication: catches up, pauses, picks up later writes through long-poll, checkpoints
// as it goes, survives dropped connections, and stops cleanly when cancelled.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefugeError, type Database } from '../../src/core.ts';
import { LocalPeer, replicate, sync, type ReplicationLog } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { nextEvent } from './helpers/events.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

async function pair(t: { after: (fn: () => Promise<void>) => void }): Promise<{ a: Database; b: Database }> {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  return { a: a.db, b: b.db };
}

test('continuous: later writes arrive, each round ends paused with a checkpoint; cancel ends it', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs([{ _id: 'early1' }, { _id: 'early2' }]);
  // A long long-poll: if cancel did not interrupt it, `done` would hang and the test time out.
  const rep = replicate(a, b, { continuous: true, longpollTimeoutMs: 600_000 });
  const states: string[] = [];
  rep.on('active', () => states.push('active'));
  rep.on('paused', () => states.push('paused'));
  await nextEvent(rep, 'paused');
  assert.deepEqual((await b.allDocs()).rows.map((r) => r.id), ['early1', 'early2']);

  const arrived = nextEvent(rep, 'change', (e) => e.docs.some((d) => d._id === 'late'));
  const pausedAgain = nextEvent(rep, 'paused');
  await a.put({ _id: 'late', v: 1 });
  await arrived;
  const progress = await pausedAgain;
  assert.equal((await b.get('late')).v, 1);
  assert.deepEqual(progress.checkpointedSeq, (await a.info()).updateSeq);
  const log = (await b.get(`_local/${rep.replicationId}`)) as ReplicationLog;
  assert.deepEqual(log.source_last_seq, progress.checkpointedSeq);
  assert.deepEqual(states, ['active', 'paused', 'active', 'paused']);

  rep.cancel();
  const report = await rep.done;
  assert.equal(report.status, 'cancelled');
  assert.equal(report.docsWritten, 3);
});

test('continuous survives a source that keeps dropping connections', async (t) => {
  const { a, b } = await pair(t);
  const source = wrapPeer(new LocalPeer(a));
  source.before = (method, n) => {
    if (method === 'changes' && n % 2 === 0) throw new RefugeError('unavailable', 'connection reset');
  };
  const rep = replicate(source, b, { continuous: true, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
  let retries = 0;
  rep.on('retry', () => retries++);
  for (let round = 0; round < 4; round++) {
    const arrived = nextEvent(rep, 'change', (e) => e.docs.some((d) => d._id === `r${round}`));
    await a.put({ _id: `r${round}` });
    await arrived;
  }
  assert.ok(retries >= 2, `retried ${retries} times`);
  rep.cancel();
  assert.equal((await rep.done).status, 'cancelled');
  await assertSameTrees(a, b);
});

test('continuous two-way sync converges edits from both sides', async (t) => {
  const { a, b } = await pair(t);
  const s = sync(a, b, { continuous: true });
  const fromA = new Promise<void>((resolve) => s.on('change', (e) => e.direction === 'push' && e.docs.some((d) => d._id === 'from-a') && resolve()));
  const fromB = new Promise<void>((resolve) => s.on('change', (e) => e.direction === 'pull' && e.docs.some((d) => d._id === 'from-b') && resolve()));
  await a.put({ _id: 'from-a' });
  await b.put({ _id: 'from-b' });
  await Promise.all([fromA, fromB]);
  s.cancel();
  const { push, pull } = await s.done;
  assert.equal(push.status, 'cancelled');
  assert.equal(pull.status, 'cancelled');
  await assertSameTrees(a, b);
});

test('cancel mid-way stops cleanly and a later run completes the job', async (t) => {
  const { a, b } = await pair(t);
  await a.bulkDocs(Array.from({ length: 50 }, (_, i) => ({ _id: `d${i}` })));
  const rep = replicate(a, b, { batchSize: 5, batchesInFlight: 1 });
  let errors = 0;
  rep.on('error', () => errors++);
  rep.on('change', () => rep.cancel());
  const report = await rep.done;
  assert.equal(report.status, 'cancelled');
  assert.equal(errors, 0);
  assert.ok(report.docsWritten < 50);
  const rest = await replicate(a, b).done;
  assert.equal(report.docsWritten + rest.docsWritten, 50);
  await assertSameTrees(a, b);

  const early = replicate(a, b);
  early.cancel();
  assert.equal((await early.done).status, 'cancelled');
});
