// The asynchronous calls (mapAsync, indexAsync, callAsync, reduceAsync, validateAsync, and opening a
// sandbox or compileAsync) leave the calling thread free while the sandbox thread runs (a view build
// or an update function no longer stops the node serving requests), keep the time limit, and never
// mix up answers with synchronous calls made meanwhile.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefugeError } from '../../src/errors/index.ts';
import { createSandbox, type DesignSandbox } from '../../src/sandbox/index.ts';

const TIMEOUT_MS = 2000;
/** A map that keeps the sandbox thread busy for a while (well within the limit) before emitting. */
const BUSY = 'function (doc) { var t = Date.now(); while (Date.now() - t < doc.ms) {} emit(doc._id, doc.n); }';

describe('sandbox asynchronous calls', () => {
  let a: DesignSandbox;
  let b: DesignSandbox;
  before(async () => {
    a = await createSandbox({ timeoutMs: TIMEOUT_MS });
    b = await createSandbox({ timeoutMs: TIMEOUT_MS });
  });
  after(() => {
    a.dispose();
    b.dispose();
  });

  it('answers as map does, for every document of a batch', async () => {
    const fn = a.compile('function (doc) { if (doc.n % 3 === 0) throw new Error("no " + doc.n); emit(doc.n, [doc._id]); }');
    const docs = Array.from({ length: 50 }, (_, n) => ({ _id: `d${n}`, n }));
    const sync = a.map(fn, docs);
    const out = await a.mapAsync(fn, docs);
    assert.equal(out.length, 50);
    assert.deepEqual(out.map(String), sync.map(String));
    assert.deepEqual(out[1], [[1, ['d1']]]);
    assert.ok(out[3] instanceof RefugeError && /no 3/.test(out[3].reason));
  });

  it('lets the calling thread run while the sandbox works', async () => {
    const fn = a.compile(BUSY);
    let ticked = false;
    const timer = setTimeout(() => (ticked = true), 0);
    const mapped = a.mapAsync(fn, [{ _id: 'x', n: 1, ms: 300 }]);
    // With map(), nothing else could run before the answer: the thread would be blocked.
    const out = await mapped;
    clearTimeout(timer);
    assert.equal(ticked, true, 'a timer fired while the sandbox thread mapped');
    assert.deepEqual(out, [[['x', 1]]]);
  });

  it('keeps answers apart when synchronous calls come while one runs', async () => {
    const slow = a.compile(BUSY);
    const quick = b.compile('function (doc) { emit("b", doc.n); }');
    const pending = [a.mapAsync(slow, [{ _id: 'p', n: 1, ms: 200 }]), a.mapAsync(slow, [{ _id: 'q', n: 2, ms: 50 }])];
    // Blocks until the running asynchronous call ends, then runs; the queued one runs after it.
    assert.deepEqual(b.map(quick, [{ n: 7 }]), [[['b', 7]]]);
    assert.deepEqual(b.filter(b.compile('function (doc) { return doc.n > 1; }'), [{ n: 1 }, { n: 2 }], {}), [false, true]);
    assert.deepEqual(await Promise.all(pending), [[[['p', 1]]], [[['q', 2]]]]);
  });

  it('stops a runaway function as a timeout, and both sandboxes still work', async () => {
    const hostile = a.compile('function (doc) { for (;;) "x".repeat(1e5).indexOf("y"); }');
    const other = b.mapAsync(b.compile(BUSY), [{ _id: 'after', n: 3, ms: 10 }]);
    const started = performance.now();
    await assert.rejects(a.mapAsync(hostile, [{ _id: 'h' }]), (err: unknown) => err instanceof RefugeError && err.code === 'timeout');
    assert.ok(performance.now() - started < 10 * TIMEOUT_MS);
    assert.deepEqual(await other, [[['after', 3]]]);
    assert.deepEqual(await a.mapAsync(a.compile('function (doc) { emit(1, 2); }'), [{}]), [[[1, 2]]]);
    assert.deepEqual(b.map(b.compile('function (doc) { emit(3, 4); }'), [{}]), [[[3, 4]]]);
  });

  it('calls, reduces and validates as the synchronous calls do', async () => {
    const call = a.compile('function (doc, req) { if (req.bad) throw new Error("bad"); return [doc, { json: req }]; }');
    assert.deepEqual(await a.callAsync(call, [{ _id: 'x' }, { n: 1 }]), a.call(call, [{ _id: 'x' }, { n: 1 }]));
    await assert.rejects(a.callAsync(call, [null, { bad: true }]), (err: unknown) => err instanceof RefugeError && err.code === 'sandbox_error' && /bad/.test(err.reason));
    const reduce = a.compile('function (keys, values, rereduce) { return sum(values) + (rereduce ? 100 : 0); }');
    assert.equal(await a.reduceAsync(reduce, [[1, 'a'], [2, 'b']], [3, 4], false), 7);
    assert.equal(await a.reduceAsync(reduce, null, [7, 1], true), 108);
    const validate = a.compile('function (newDoc, oldDoc, userCtx) { if (!newDoc.ok) throw ({ forbidden: "not ok for " + userCtx.name }); }');
    assert.equal(await a.validateAsync(validate, { ok: true }, null, { name: 'u' }, {}), undefined);
    await assert.rejects(a.validateAsync(validate, {}, null, { name: 'u' }, {}), (err: unknown) => err instanceof RefugeError && err.code === 'forbidden' && err.reason === 'not ok for u');
  });

  it('opens a sandbox and compiles while another call runs, without blocking the calling thread', async () => {
    const spin = a.compile('function () { for (;;) {} }');
    const spinning = assert.rejects(a.callAsync(spin, []), (err: unknown) => err instanceof RefugeError && err.code === 'timeout');
    let last = performance.now();
    let heldMs = 0;
    const ticker = setInterval(() => {
      heldMs = Math.max(heldMs, performance.now() - last);
      last = performance.now();
    }, 10);
    try {
      // Both wait for the thread, which is busy until the spin's time limit.
      const c = await createSandbox({ timeoutMs: TIMEOUT_MS });
      try {
        const fn = await c.compileAsync('function (doc) { emit(doc.n, null); }');
        assert.equal(await c.compileAsync('function (doc) { emit(doc.n, null); }'), fn, 'a source compiles once');
        assert.deepEqual(await c.mapAsync(fn, [{ n: 5 }]), [[[5, null]]]);
        await assert.rejects(c.compileAsync('function ('), (err: unknown) => err instanceof RefugeError && err.code === 'compilation_error');
      } finally {
        c.dispose();
      }
      await spinning;
    } finally {
      clearInterval(ticker);
    }
    assert.ok(heldMs < TIMEOUT_MS / 2, `the calling thread was held ${Math.round(heldMs)} ms`);
  });

  it('indexes as index does', async () => {
    const fn = a.compile('function (doc) { index("default", doc.t); index("n", doc.n, {store: true}); }');
    const docs = [{ t: 'one', n: 1 }, { t: 'two', n: 2 }];
    assert.deepEqual(await a.indexAsync(fn, docs), a.index(fn, docs));
  });
});
