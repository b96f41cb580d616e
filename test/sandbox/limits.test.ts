// Time, memory and stack limits: each runaway call gets a clear error, the other docs of a batch
// keep their results, and the sandbox keeps working afterwards with its compiled functions.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefugeError } from '../../src/errors/index.ts';
import { createSandbox, type DesignSandbox } from '../../src/sandbox/index.ts';

const TIMEOUT_MS = 200;

function isRefugeError(value: unknown, code: string, reason: RegExp): boolean {
  assert.ok(value instanceof RefugeError, `expected a RefugeError, got ${JSON.stringify(value)}`);
  assert.equal(value.code, code);
  assert.match(value.reason, reason);
  return true;
}

const timeout = (err: unknown) => isRefugeError(err, 'timeout', new RegExp(`^function exceeded the time limit of ${TIMEOUT_MS} ms$`));
const outOfMemory = /^out of memory: the function exceeded the sandbox limit of 4 MiB$/;

function stillWorks(sb: DesignSandbox, plain: number): void {
  assert.deepEqual(sb.map(plain, [{ n: 1 }, { n: 2 }]), [[[1, null]], [[2, null]]]);
}

describe('sandbox limits', () => {
  let sb: DesignSandbox;
  let plain: number;
  before(async () => {
    sb = await createSandbox({ timeoutMs: TIMEOUT_MS });
    plain = sb.compile('function (doc) { emit(doc.n, null); }');
  });
  after(() => sb.dispose());


  it('holds the time limit per document: a batch slower in total than the limit, each doc well within it, maps whole', () => {
    // 40 docs of 20 ms each: 800 ms in all, four times the limit, 10% of it per doc.
    const slow = sb.compile('function (doc) { var t = Date.now(); while (Date.now() - t < 20) {} emit(doc.n, null); }');
    const docs = Array.from({ length: 40 }, (_, n) => ({ n }));
    assert.deepEqual(sb.map(slow, docs), docs.map(({ n }) => [[n, null]]));
  });

  it('stops an infinite loop with a timeout, then works with the functions compiled before', () => {
    const loop = sb.compile('function (doc) { if (doc.loop) while (true) {} emit(doc.n, null); }');
    assert.throws(() => sb.map(loop, [{ n: 1 }, { n: 2, loop: true }]), timeout);
    stillWorks(sb, plain);
    assert.deepEqual(sb.map(loop, [{ n: 3 }]), [[[3, null]]]);
  });

  it('cannot be caught by user code', () => {
    const fn = sb.compile('function () { for (;;) { try { while (true) {} } catch (e) { /* keep going */ } } }');
    assert.throws(() => sb.call(fn, []), timeout);
    stillWorks(sb, plain);
  });

  it('applies to validate, reduce, filter, index and compile-time code', () => {
    const spin = 'while (true) {}';
    assert.throws(() => sb.validate(sb.compile(`function () { ${spin} }`), {}, null, {}, {}), timeout);
    assert.throws(() => sb.reduce(sb.compile(`function (k, v) { ${spin} }`), null, [1], true), timeout);
    assert.throws(() => sb.filter(sb.compile(`function (doc) { ${spin} }`), [{}], {}), timeout);
    assert.throws(() => sb.index(sb.compile(`function (doc) { ${spin} }`), [{}]), timeout);
    assert.throws(() => sb.compile(`(function () { ${spin} })()`), timeout);
    assert.throws(() => sb.call(sb.compile(`function () { Promise.resolve().then(function () { ${spin} }); return 1; }`), []), timeout);
    stillWorks(sb, plain);
  });

  it('stops a catastrophic regular expression', () => {
    const fn = sb.compile('function (s) { return /^(a+)+$/.test(s); }');
    assert.throws(() => sb.call(fn, ['a'.repeat(40) + 'b']), timeout);
    stillWorks(sb, plain);
  });

  it('turns deep recursion into an error for that doc only', () => {
    const fn = sb.compile('function (doc) { function f(n) { return f(n + 1) + 1; } if (doc.deep) f(0); emit(doc.n, null); }');
    const out = sb.map(fn, [{ n: 1 }, { n: 2, deep: true }, { n: 3 }]);
    assert.deepEqual(out[0], [[1, null]]);
    isRefugeError(out[1], 'sandbox_error', /^InternalError: stack overflow$/);
    assert.deepEqual(out[2], [[3, null]]);
    const viaJson = sb.compile('function () { var o = {}; for (var i = 0; i < 10000; i++) o = {a: o}; return JSON.stringify(o).length; }');
    assert.throws(() => sb.call(viaJson, []), (err) => isRefugeError(err, 'sandbox_error', /stack overflow/));
    stillWorks(sb, plain);
  });

  it('isolates a doc nested too deeply to parse from the rest of its batch', () => {
    let deep: object = { leaf: true };
    for (let i = 0; i < 3000; i++) deep = { a: deep };
    const docs = [{ n: 1 }, { n: 2 }, { n: 3, deep }, { n: 4 }];
    const out = sb.map(plain, docs);
    assert.deepEqual([out[0], out[1], out[3]], [[[1, null]], [[2, null]], [[4, null]]]);
    isRefugeError(out[2], 'sandbox_error', /stack overflow/);
  });

  it('keeps per-doc errors of a batch in their slots', () => {
    const fn = sb.compile(`function (doc) {
      if (doc.kind === 'type') null.x;
      if (doc.kind === 'string') throw 'plain string';
      if (doc.kind === 'object') throw {reason: 'custom'};
      if (doc.kind === 'couch') throw ['error', 'not_found', 'gone'];
      if (doc.kind === 'getter') throw { get message() { throw new Error('nested'); } };
      emit(doc.n, null);
    }`);
    const out = sb.map(fn, [{ n: 1 }, { kind: 'type' }, { kind: 'string' }, { kind: 'object' }, { kind: 'couch' }, { kind: 'getter' }, { n: 7 }]);
    assert.deepEqual(out[0], [[1, null]]);
    isRefugeError(out[1], 'sandbox_error', /^TypeError: /);
    isRefugeError(out[2], 'sandbox_error', /^function raised plain string$/);
    isRefugeError(out[3], 'sandbox_error', /^function raised \{"reason":"custom"\}$/);
    isRefugeError(out[4], 'sandbox_error', /^not_found: gone$/);
    isRefugeError(out[5], 'sandbox_error', /could not be described/);
    assert.deepEqual(out[6], [[7, null]]);
  });

  it('reports emit() outside a map function and values JSON cannot hold', () => {
    const fn = sb.compile('function () { emit(1, 2); }');
    assert.throws(() => sb.call(fn, []), (err) => isRefugeError(err, 'sandbox_error', /^Error: emit\(\) can only be called from a map function$/));
    const cyclic = sb.compile('function (doc) { var o = {}; o.o = o; emit(doc.n, o); }');
    isRefugeError(sb.map(cyclic, [{ n: 1 }])[0], 'sandbox_error', /^TypeError: circular reference$/);
  });
});

describe('sandbox memory limit', () => {
  // Filling the heap object by object takes QuickJS a while on a busy machine: a generous time
  // limit keeps these about memory, a small heap keeps them quick.
  let mem: DesignSandbox;
  let memPlain: number;
  before(async () => {
    mem = await createSandbox({ timeoutMs: 30_000, memoryBytes: 4 * 1024 * 1024 });
    memPlain = mem.compile('function (doc) { emit(doc.n, null); }');
  });
  after(() => mem.dispose());

  it('reports huge allocations as out of memory and recovers', () => {
    const attempts = [
      'var a = []; while (true) a.push([a.length, a.length]);',
      'return "x".repeat(Math.pow(2, 29)).length;',
      'return new ArrayBuffer(1e9).byteLength;',
      'return new Array(1e8).fill(0).length;',
      // QuickJS's own limit let this one grow an instance past 1.5 GB (see module-pool.ts).
      'var a = []; for (;;) a.push(new Array(1e5).fill(a.length));',
    ];
    for (const body of attempts) {
      assert.throws(() => mem.call(mem.compile(`function () { ${body} }`), []), (err) => isRefugeError(err, 'sandbox_error', outOfMemory));
      stillWorks(mem, memPlain);
    }
  });

  it('keeps the other docs of a batch when one runs out of memory', () => {
    const fn = mem.compile('function (doc) { if (doc.hog) { var a = []; while (true) a.push({i: a.length}); } emit(doc.n, null); }');
    const out = mem.map(fn, [{ n: 1 }, { n: 2, hog: true }, { n: 3 }, { n: 4, hog: true }, { n: 5 }]);
    assert.deepEqual(out[0], [[1, null]]);
    isRefugeError(out[1], 'sandbox_error', outOfMemory);
    assert.deepEqual(out[2], [[3, null]]);
    isRefugeError(out[3], 'sandbox_error', outOfMemory);
    assert.deepEqual(out[4], [[5, null]]);
  });
});

describe('sandbox crash recovery', () => {
  it('survives a native stack overflow inside WebAssembly and keeps its functions', async () => {
    // A QuickJS stack limit far beyond Node's native stack makes the overflow happen in V8, not QuickJS.
    const sb = await createSandbox({ stackBytes: 4 * 1024 * 1024 });
    try {
      const plain = sb.compile('function (doc) { emit(doc.n, null); }');
      const deep = sb.compile('function () { function f(n) { return f(n + 1) + 1; } return f(0); }');
      assert.throws(() => sb.call(deep, []), (err) => isRefugeError(err, 'sandbox_error', /^the sandbox crashed \(native stack overflow\); the next call runs in a fresh instance$/));
      assert.deepEqual(sb.map(plain, [{ n: 1 }]), [[[1, null]]]);
    } finally {
      sb.dispose();
    }
  });
});
