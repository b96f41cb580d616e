// Escape attempts fail cleanly, user code cannot tamper with the harness or later docs, and docs
// handed to functions are copies.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefugeError } from '../../src/errors/index.ts';
import { createSandbox, type DesignSandbox } from '../../src/sandbox/index.ts';

const HOST_NAMES = ['process', 'Buffer', 'fetch', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask',
  'console', 'print', 'std', 'os', 'WebAssembly', 'XMLHttpRequest', 'WebSocket', 'global', 'module', 'exports',
  '__dirname', 'Deno', 'Bun', 'importScripts', 'structuredClone', 'SharedWorker', 'Worker', 'Atomics'];

function reasonOf(value: unknown): string {
  assert.ok(value instanceof RefugeError, `expected a RefugeError, got ${JSON.stringify(value)}`);
  return value.reason;
}

describe('sandbox isolation', () => {
  let sb: DesignSandbox;
  before(async () => {
    sb = await createSandbox({
      ddoc: {
        lib: {
          ok: 'exports.x = 1;',
          tamper: 'module.parent.current.ok = "exports.x = 666;"; exports.done = true;',
        },
      },
    });
  });
  after(() => sb.dispose());

  it('has no host globals, only the language and the CouchDB helpers', () => {
    const names = sb.call(sb.compile('function () { return Object.getOwnPropertyNames(globalThis); }'), []) as string[];
    for (const host of HOST_NAMES) assert.ok(!names.includes(host), `${host} is visible`);
    for (const couch of ['emit', 'log', 'sum', 'isArray', 'toJSON', 'JSON', 'require', 'index']) assert.ok(names.includes(couch), couch);
    const types = sb.call(sb.compile(`function () {
      return [typeof process, typeof fetch, typeof setTimeout, typeof console, typeof Buffer, typeof WebAssembly];
    }`), []);
    assert.deepEqual(types, ['undefined', 'undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
  });

  it('fails cleanly on each classic escape attempt, doc by doc', () => {
    const attempts = [
      ['require("fs")', /^invalid_require_path: Object has no property "fs"$/],
      ['require("child_process").exec("id")', /^invalid_require_path: /],
      ['process.exit(1)', /^ReferenceError: 'process' is not defined$/],
      ['globalThis.constructor.constructor("return process")()', /^EvalError: code generation from strings is not allowed$/],
      ['this.constructor.constructor("return process.env")()', /^EvalError: code generation from strings is not allowed$/],
      ['(function () {}).constructor("return require(\\"fs\\")")().readFileSync("/etc/passwd")', /^EvalError: /],
      ['fetch("http://127.0.0.1/")', /^ReferenceError: 'fetch' is not defined$/],
      ['setTimeout(function () {}, 0)', /^ReferenceError: 'setTimeout' is not defined$/],
      // No code generation from strings, as in couchjs (CouchDB's view_sandboxing test).
      ['eval("process")', /^ReferenceError: 'eval' is not defined$/],
      ['Function("return this")().process.env', /^EvalError: code generation from strings is not allowed$/],
      ['emit.constructor("return this")()', /^EvalError: code generation from strings is not allowed$/],
      ['(function* () {}).constructor("yield 1")', /^EvalError: /],
      ['(async function () {}).constructor("return 1")', /^EvalError: /],
      ['Object.getPrototypeOf(async function* () {}).constructor("return 1")', /^EvalError: /],
    ] as const;
    for (const [code, reason] of attempts) {
      const fn = sb.compile(`function (doc) { emit(doc.i, ${code}); }`);
      const [first, second] = sb.map(fn, [{ i: 1 }, { i: 2 }]);
      assert.match(reasonOf(first), reason, code);
      assert.match(reasonOf(second), reason, code);
    }
  });

  it('lets import() only fail: no module loader exists', () => {
    const start = sb.compile(`function () {
      globalThis.imported = 'pending';
      import('fs').then(function () { imported = 'loaded'; }, function (e) { imported = 'rejected: ' + e.message; });
      return imported;
    }`);
    assert.equal(sb.call(start, []), 'pending');
    // Promise callbacks ran at the end of the previous call.
    assert.equal(sb.call(sb.compile('function () { return imported; }'), []), "rejected: could not load module 'fs'");
  });

  it('keeps the harness working when a map function rewrites globals and prototypes', () => {
    const fn = sb.compile(`function (doc) {
      if (doc.evil) {
        JSON.stringify = function () { return '"hacked"'; };
        JSON = { stringify: function () { return '"hacked"'; } };
        emit = function () {};
        log = null;
        sum = function () { return 42; };
        Array.prototype.push = function () {};
        Object.prototype.toJSON = function () { return 'hacked'; };
        globalThis.isArray = function () { return true; };
      }
      emit(doc._id, {n: sum([1, 2]), json: JSON.stringify([1]), arr: isArray({})});
    }`);
    const out = sb.map(fn, [{ _id: 'a' }, { _id: 'b', evil: true }, { _id: 'c' }]);
    const row = (id: string) => [[id, { n: 3, json: '[1]', arr: false }]];
    assert.deepEqual(out, [row('a'), row('b'), row('c')]);
  });

  it('refuses in strict mode and per doc what sloppy mode silently ignores', () => {
    const fn = sb.compile(`function (doc) {
      'use strict';
      if (doc.evil === 1) Object.defineProperty(Array.prototype, '0', { set: function () {} });
      if (doc.evil === 2) JSON.parse = null;
      if (doc.evil === 3) emit = null;
      if (doc.evil === 4) Object.prototype.toJSON = function () { return 'x'; };
      emit(doc.evil, [1]);
    }`);
    const out = sb.map(fn, [{ evil: 1 }, { evil: 2 }, { evil: 3 }, { evil: 4 }, { evil: 0 }]);
    for (const entry of out.slice(0, 4)) assert.match(reasonOf(entry), /^TypeError: /);
    assert.deepEqual(out[4], [[0, [1]]]);
  });

  it('still lets user code override inherited names on its own objects', () => {
    const fn = sb.compile(`function () {
      function MyError(m) { this.message = m; }
      MyError.prototype = Object.create(Error.prototype);
      MyError.prototype.name = 'MyError';
      MyError.prototype.constructor = MyError;
      var o = {}; o.toString = function () { return 'custom'; };
      counter = (typeof counter === 'number' ? counter : 0) + 1;
      try { throw new MyError('boom'); } catch (e) { return [String(e), e instanceof Error, String(o), counter]; }
    }`);
    assert.deepEqual(sb.call(fn, []), ['MyError: boom', true, 'custom', 1]);
    assert.deepEqual(sb.call(fn, []), ['MyError: boom', true, 'custom', 2]);
  });

  it('hands each function fresh copies of the docs', () => {
    const docs = [{ _id: 'a', n: 1, tags: ['x'] }];
    const mutate = sb.compile('function (doc) { doc.n = 99; doc.tags.push("y"); doc.added = true; emit(doc.n, doc.tags); }');
    const read = sb.compile('function (doc) { emit(doc.n, [doc.tags, doc.added === undefined]); }');
    assert.deepEqual(sb.map(mutate, docs), [[[99, ['x', 'y']]]]);
    assert.deepEqual(sb.map(read, docs), [[[1, [['x'], true]]]]);
    assert.deepEqual(docs, [{ _id: 'a', n: 1, tags: ['x'] }]);
  });

  it('freezes the filter req shared by the docs of a batch', () => {
    const fn = sb.compile('function (doc, req) { req.query.seen = true; return !req.query.seen; }');
    assert.deepEqual(sb.filter(fn, [{}, {}], { query: {} }), [true, true]);
  });

  it('keeps the design document immutable for modules', () => {
    const fn = sb.compile('function () { return [require("lib/tamper").done, require("lib/ok").x]; }');
    assert.deepEqual(sb.call(fn, []), [true, 1]);
  });

  it('shares nothing between sandboxes', async () => {
    const other = await createSandbox();
    try {
      sb.call(sb.compile('function () { globalThis.shared = 1; }'), []);
      assert.equal(other.call(other.compile('function () { return typeof shared; }'), []), 'undefined');
    } finally {
      other.dispose();
    }
  });
});
