// A database whose storage failed a write (a full disk) refuses work only until storage is back:
// the next call opens the store again, reloads the counters from it, and work resumes, for the
// object a caller holds (no reopen by hand, no restart). The engine here is the memory one with
// LevelDB's behaviour after a failed write added: every write refused until reopened.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openDatabase } from '../../src/index.ts';
import { isRefugeError } from '../../src/errors/index.ts';
import { memoryEngine, type KvChain, type KvStore, type StorageEngine } from '../../src/storage/index.ts';

/** Storage that, once told to, fails writes until reopened; `full` keeps reopened writes failing too. */
function flakyEngine() {
  const control = {
    failNext: false,
    broken: false,
    full: false,
    reopens: 0,
    /** Holds each reopen until resolved (undefined: reopens at once); reads fail meanwhile, as on a closed store. */
    gate: undefined as Promise<void> | undefined,
    reopening: false,
    /** What the next reopen reports as dropped (KvStore.recoveryLoss). */
    loss: undefined as string | undefined,
    events: [] as string[],
  };
  const fail = () => Promise.reject(Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' }));
  const engine: StorageEngine = {
    name: 'flaky',
    async open(options) {
      const inner = await memoryEngine.open(options);
      let recoveryLoss: string | undefined;
      const refuses = () => {
        if (control.failNext || control.full) {
          control.failNext = false;
          control.broken = true;
        }
        return control.broken;
      };
      return new Proxy(inner, {
        get(target, prop, receiver) {
          if (prop === 'reopen') {
            return async () => {
              control.events.push('reopen');
              control.reopening = true;
              await control.gate;
              control.reopening = false;
              control.reopens++;
              control.broken = false;
              recoveryLoss = control.loss;
              control.events.push('reopened');
            };
          }
          if (prop === 'recoveryLoss') return recoveryLoss;
          if (prop === 'close') {
            return () => {
              control.events.push('close');
              return target.close();
            };
          }
          if (prop === 'getSync' || prop === 'get' || prop === 'getMany' || prop === 'snapshot') {
            const read = Reflect.get(target, prop, receiver) as (...args: unknown[]) => unknown;
            return (...args: unknown[]) => {
              if (control.reopening) throw Object.assign(new Error('Database is not open'), { code: 'LEVEL_DATABASE_NOT_OPEN' });
              return read.apply(target, args);
            };
          }
          if (prop === 'batch') return (...args: Parameters<KvStore['batch']>) => (refuses() ? fail() : target.batch(...args));
          if (prop === 'chain') {
            return (): KvChain => {
              const chain = target.chain();
              return {
                put: (k, v) => chain.put(k, v),
                del: (k) => chain.del(k),
                get length() {
                  return chain.length;
                },
                write: (o) => (refuses() ? chain.close().then(fail) : chain.write(o)),
                close: () => chain.close(),
              };
            };
          }
          return Reflect.get(target, prop, receiver);
        },
      });
    },
    destroy: (location) => memoryEngine.destroy(location),
  };
  return { engine, control };
}

for (const durability of ['durable', 'fast'] as const) {
  test(`after a failed write (${durability}), the next call brings storage back and the counts are storage's`, async () => {
    const { engine, control } = flakyEngine();
    const db = await openDatabase('x', { engine, durability, design: false });
    try {
      await db.put({ _id: 'kept', v: 1 });
      // Stored before the failure (a fast-mode flush on this I/O-less engine waits for the next turn).
      await db.ensureFullCommit();
      control.failNext = true;
      // The write that fails: durable, refused; fast, acknowledged then lost with its group.
      const failed = (e: unknown) => isRefugeError(e, 'internal') && /failed to write/.test(e.reason);
      const lost = db.put({ _id: 'lost', v: 2 });
      if (durability === 'durable') await assert.rejects(lost, failed);
      else {
        await lost;
        // Acknowledged, then lost: the next ensureFullCommit says so (a replicator keeps its checkpoint).
        await assert.rejects(db.ensureFullCommit(), failed);
      }
      // The disk stays full: the database opens storage again, and the write fails again, clearly.
      control.full = true;
      if (durability === 'durable') await assert.rejects(db.put({ _id: 'again' }), failed);
      else {
        await db.put({ _id: 'again' });
        await assert.rejects(db.ensureFullCommit(), failed);
      }
      assert.equal(control.reopens, 1);
      // Space freed: the same object takes work again, without a reopen by its holder.
      control.full = false;
      const r = await db.put({ _id: 'after', v: 3 });
      assert.match(r.rev, /^1-/);
      if (durability === 'durable') await db.ensureFullCommit();
      else {
        // The loss is told to every caller for a while (whose writes were lost is not known), as
        // something to try again: each replicator checkpointing then sends its writes again.
        for (let i = 0; i < 2; i++) await assert.rejects(db.ensureFullCommit(), (e: unknown) => isRefugeError(e, 'unavailable') && /were lost/.test(e.reason));
      }
      assert.equal(control.reopens, 2);
      const info = await db.info();
      const listed = await db.allDocs();
      assert.deepEqual(listed.rows.map((row) => row.id), ['after', 'kept']);
      assert.equal(info.docCount, 2, 'no count for a document never stored');
      const changes = await db.changes();
      assert.deepEqual(changes.results.map((row) => row.id), ['kept', 'after']);
      assert.equal(info.updateSeq, changes.lastSeq);
      assert.equal(await db.pendingAfter(changes.lastSeq), 0);
      assert.deepEqual((await db.find({ selector: { v: { $gt: 0 } } })).docs.map((d) => d._id).sort(), ['after', 'kept']);
    } finally {
      await db.close();
    }
  });
}

/** A promise and its resolver, to hold a reopen or a job at a chosen point. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Makes the next flush fail, and waits until it has (fast mode acknowledges first). */
async function failOnce(db: Awaited<ReturnType<typeof openDatabase>>, control: ReturnType<typeof flakyEngine>['control']): Promise<void> {
  control.failNext = true;
  await db.put({ _id: 'lost' });
  await assert.rejects(db.ensureFullCommit());
  assert.equal(db.failed, true);
}

test('reads while storage is being opened again wait for it instead of failing; a close waits for it too', async () => {
  const { engine, control } = flakyEngine();
  const db = await openDatabase('x', { engine, durability: 'fast', design: false });
  await db.put({ _id: 'kept' });
  await db.ensureFullCommit();
  await failOnce(db, control);
  const held = gate();
  control.gate = held.promise;
  const writing = db.put({ _id: 'after' });
  const reading = db.get('kept');
  const listing = db.allDocs();
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(control.reopening, true, 'the recovery is under way');
  const closing = db.close();
  held.open();
  assert.equal((await reading)._id, 'kept');
  assert.deepEqual((await listing).rows.map((r) => r.id), ['kept']);
  await writing.catch(() => undefined);
  await closing;
  // Storage was closed after it was opened again, never before it (which left LevelDB open, locked).
  assert.deepEqual(control.events.slice(-3), ['reopen', 'reopened', 'close']);
});

test('a write group computed across a recovery is refused, not committed with counters that counted lost writes', async () => {
  const { engine, control } = flakyEngine();
  const db = await openDatabase('x', { engine, durability: 'fast', design: false });
  await db.put({ _id: 'kept' });
  await db.ensureFullCommit();
  control.failNext = true;
  await db.put({ _id: 'lost' });
  // A group that starts computing before the flush fails, and ends after storage is back.
  const held = gate();
  const writer = (db as unknown as { writer: { submit(run: (batch: { write(doc: unknown, newEdits: boolean): unknown }) => Promise<unknown>): Promise<unknown> } }).writer;
  const stale = writer.submit(async (batch) => {
    await held.promise;
    return batch.write({ _id: 'stale' }, true);
  });
  await assert.rejects(db.ensureFullCommit());
  const recovering = db.putLocal({ _id: '_local/x' });
  await new Promise((resolve) => setTimeout(resolve, 5));
  held.open();
  await assert.rejects(stale, (e: unknown) => isRefugeError(e, 'unavailable'));
  await recovering;
  const info = await db.info();
  assert.deepEqual((await db.allDocs()).rows.map((r) => r.id), ['kept']);
  assert.equal(info.docCount, 1);
  assert.equal(info.updateSeq, (await db.changes()).lastSeq);
  await db.close();
});

test('damage found when storage is opened again is told, as at an open', async () => {
  const { engine, control } = flakyEngine();
  const db = await openDatabase('x', { engine, durability: 'fast', design: false });
  await db.put({ _id: 'kept' });
  await db.ensureFullCommit();
  const told: string[] = [];
  db.onDamage = (loss) => told.push(loss);
  await failOnce(db, control);
  control.loss = 'dropping 100 bytes; Corruption: checksum mismatch';
  await db.put({ _id: 'after' });
  assert.deepEqual(told, [control.loss]);
  assert.equal(db.recoveryLoss, control.loss);
  assert.equal((await db.info()).docCount, 2);
  await db.close();
});

for (const durability of ['durable', 'fast'] as const) {
  test(`between a failed write and storage coming back, counts and changes are storage's, and no sequence is given twice (${durability})`, async () => {
    const { engine, control } = flakyEngine();
    const db = await openDatabase('x', { engine, durability, design: false });
    await db.put({ _id: 'kept' });
    await db.ensureFullCommit();
    control.failNext = true;
    await db.put({ _id: 'lost' }).catch(() => undefined);
    await db.ensureFullCommit().catch(() => undefined);
    assert.equal(db.failed, true);
    // Before: update_seq 2 and doc_count 2 here, then the next write took seq 2 again, and a
    // reader that had read up to 2 never saw it.
    const info = await db.info();
    const feed = await db.changes();
    assert.deepEqual([info.updateSeq, info.docCount, feed.lastSeq], [1, 1, 1]);
    await db.put({ _id: 'after' });
    assert.deepEqual((await db.changes({ since: feed.lastSeq })).results.map((r) => r.id), ['after']);
    await db.close();
  });
}
