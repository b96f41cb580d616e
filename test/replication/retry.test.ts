// Transient failures (network, 5xx) are retried with exponential back-off; anything else, or too
// many failures in a row, ends the replication with an 'error' event and a rejected `done`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefugeError, isRefugeError, type Database } from '../../src/core.ts';
import { LocalPeer, replicate } from '../../src/replication/index.ts';
import { freshDb } from '../helpers/db.ts';
import { assertSameTrees } from './helpers/trees.ts';
import { wrapPeer, type Method } from './helpers/wrap-peer.ts';

async function pair(t: { after: (fn: () => Promise<void>) => void }): Promise<{ a: Database; b: Database }> {
  const a = await freshDb('memory', {}, 'a');
  const b = await freshDb('memory', {}, 'b');
  t.after(async () => {
    await a.cleanup();
    await b.cleanup();
  });
  await a.db.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `d${i}`, i })));
  return { a: a.db, b: b.db };
}

const retry = { initialDelayMs: 2, maxDelayMs: 8 };

test('flaky peers: every kind of call fails some of the time, the replication still completes', async (t) => {
  const { a, b } = await pair(t);
  const sourcePeer = new LocalPeer(a);
  // Changes that carried the documents would leave no bulkGet to fail.
  sourcePeer.capabilities.changesDocs = false;
  const source = wrapPeer(sourcePeer);
  const target = wrapPeer(new LocalPeer(b));
  const flaky = (failOn: Partial<Record<Method, number[]>>) => (method: Method, n: number) => {
    if (failOn[method]?.includes(n)) throw new RefugeError('unavailable', `${method} #${n} dropped`);
  };
  source.before = flaky({ info: [1], changes: [1, 3], bulkGet: [2, 3, 4], getLocal: [1] });
  target.before = flaky({ revsDiff: [1], bulkDocs: [2], putLocal: [1, 2] });
  const rep = replicate(source, target, { batchSize: 10, batchesInFlight: 1, retry });
  const delays: Array<{ attempt: number; delayMs: number }> = [];
  const paused: unknown[] = [];
  rep.on('retry', (r) => delays.push(r));
  rep.on('paused', (p) => p.error && paused.push(p.error));
  const report = await rep.done;
  assert.equal(report.docsWritten, 40);
  assert.equal(delays.length, 11);
  assert.ok(paused.length > 0);
  for (const { attempt, delayMs } of delays) {
    const full = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
    assert.ok(delayMs >= full / 2 && delayMs <= full, `attempt ${attempt}: ${delayMs} ms`);
  }
  assert.ok(delays.some((d) => d.attempt === 3), 'the back-off grew on repeated failures');
  await assertSameTrees(a, b);
});

test('a non-retryable failure ends it at once: error event, rejected done, progress kept', async (t) => {
  const { a, b } = await pair(t);
  const target = wrapPeer(new LocalPeer(b));
  target.before = (method, n) => {
    if (method === 'bulkDocs' && n === 3) throw new RefugeError('forbidden', 'you shall not write');
  };
  const rep = replicate(a, target, { batchSize: 10, batchesInFlight: 1, retry });
  const errors: RefugeError[] = [];
  rep.on('error', (e) => errors.push(e));
  await assert.rejects(rep.done, (err) => isRefugeError(err, 'forbidden'));
  assert.equal(errors.length, 1);
  assert.equal(target.calls.bulkDocs, 3, 'no retry of a forbidden write');
  // The two batches written before the failure were checkpointed: a rerun starts after them.
  const rerun = await replicate(a, b, { batchSize: 10 }).done;
  assert.equal(rerun.docsWritten, 20);
  assert.equal(Number(rerun.startSeq), 20);
});

test('retries give up after maxAttempts, and retry:false fails at the first error', async (t) => {
  const { a, b } = await pair(t);
  const source = wrapPeer(new LocalPeer(a));
  source.before = (method) => {
    if (method === 'changes') throw new RefugeError('unavailable', 'down');
  };
  const limited = replicate(source, b, { retry: { ...retry, maxAttempts: 3 } });
  await assert.rejects(limited.done, (err) => isRefugeError(err, 'unavailable'));
  assert.equal(source.calls.changes, 3);
  const strict = replicate(source, b, { retry: false });
  await assert.rejects(strict.done, (err) => isRefugeError(err, 'unavailable'));
  assert.equal(source.calls.changes, 4);
});
