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
  const control = { failNext: false, broken: false, full: false, reopens: 0 };
  const fail = () => Promise.reject(Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' }));
  const engine: StorageEngine = {
    name: 'flaky',
    async open(options) {
      const inner = await memoryEngine.open(options);
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
              control.reopens++;
              control.broken = false;
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
      await db.ensureFullCommit();
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
