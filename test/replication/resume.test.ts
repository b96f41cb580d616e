// Checkpoints make an interrupted replication resume where it was, and in order: with batches in
// flight at once, a checkpoint never names a sequence before every earlier batch is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/core.ts';
import { LocalPeer, replicate, type Seq } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { wrapPeer } from './helpers/wrap-peer.ts';

const N = 100;
const BATCH = 10;

async function setup(t: { after: (fn: () => Promise<void>) => void }): Promise<{ a: Database; b: Database }> {
  const a = await freshDb('leveldb', {}, 'a');
  const b = await freshDb('leveldb', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  await a.db.bulkDocs(Array.from({ length: N }, (_, i) => ({ _id: `d${String(i).padStart(3, '0')}`, i })));
  return { a: a.db, b: b.db };
}

for (const batchesInFlight of [1, 3]) {
  test(`cancelled after its first checkpoint, a replication resumes there (${batchesInFlight} in flight)`, async (t) => {
    const { a, b } = await setup(t);
    const first = replicate(a, b, { batchSize: BATCH, batchesInFlight });
    first.on('checkpoint', () => first.cancel());
    const stopped = await first.done;
    assert.equal(stopped.status, 'cancelled');
    assert.ok(stopped.docsWritten >= BATCH && stopped.docsWritten < N, `wrote ${stopped.docsWritten}`);
    assert.notDeepEqual(stopped.checkpointedSeq, 0);

    const source = wrapPeer(new LocalPeer(a));
    const target = wrapPeer(new LocalPeer(b));
    const resumed = await replicate(source, target, { batchSize: BATCH, batchesInFlight }).done;
    assert.equal(resumed.status, 'complete');
    assert.deepEqual(resumed.startSeq, stopped.checkpointedSeq);
    // Changes before the checkpoint are not read again; at most one batch written but not yet
    // checkpointed is re-offered, and revs_diff stops it from being re-sent.
    assert.equal(source.rowsServed, N - Number(stopped.checkpointedSeq));
    assert.ok(target.revsChecked <= N - stopped.docsWritten + BATCH * batchesInFlight);
    assert.equal(stopped.docsWritten + resumed.docsWritten, N, 'no document written twice');
    await assertSameTrees(a, b);
  });
}

test('with batches finishing out of order, checkpoints only cover fully written prefixes', async (t) => {
  const { a, b } = await setup(t);
  const target = wrapPeer(new LocalPeer(b));
  // The first batch's write is held back until the second batch's write is done.
  let releaseFirst!: () => void;
  const firstMayGo = new Promise<void>((resolve) => (releaseFirst = resolve));
  target.before = async (method, n) => {
    if (method === 'bulkDocs' && n === 1) await firstMayGo;
  };
  const rep = replicate(a, target, { batchSize: BATCH, batchesInFlight: 3 });
  const written = new Set<number>();
  const checkpoints: Array<{ seq: Seq; written: Set<number> }> = [];
  let changeEvents = 0;
  rep.on('change', (e) => {
    for (const d of e.docs) written.add(d.i as number);
    if (++changeEvents === 1) releaseFirst();
  });
  rep.on('checkpoint', (p) => checkpoints.push({ seq: p.checkpointedSeq, written: new Set(written) }));
  const report = await rep.done;
  assert.equal(report.docsWritten, N);
  assert.ok(checkpoints.length > 0);
  for (const cp of checkpoints) {
    // Document i was written at sequence i + 1: every one up to the checkpoint must be on the target.
    for (let i = 0; i < Number(cp.seq); i++) assert.ok(cp.written.has(i), `checkpoint ${cp.seq} before doc ${i} was written`);
  }
  await assertSameTrees(a, b);
});
