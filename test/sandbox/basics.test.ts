// The sandbox's CouchDB function kinds: map, reduce, filter, validate, index, call, require, log
// and compile errors.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefugeError } from '../../src/errors/index.ts';
import { createSandbox, type DesignSandbox } from '../../src/sandbox/index.ts';

const ddoc = {
  _id: '_design/app',
  views: {
    lib: {
      math: 'exports.double = function (x) { return 2 * x; }; exports.twice = require("./twice").twice;',
      twice: 'exports.twice = function (s) { return s + s; };',
      up: 'var m = require("../lib/math"); exports.quad = function (x) { return m.double(m.double(x)); };',
    },
  },
  lib: {
    counter: 'var n = 0; exports.next = function () { return ++n; };',
    broken: 'throw new Error("module failed");',
    notString: 42,
    replaced: 'module.exports = function () { return "whole module"; };',
  },
};

describe('sandbox basics', () => {
  const logs: string[] = [];
  let sb: DesignSandbox;
  before(async () => {
    sb = await createSandbox({ ddoc, log: (m) => logs.push(m) });
  });
  after(() => sb.dispose());

  it('maps docs in one batch, keeping emit order and JSON semantics', () => {
    const fn = sb.compile('function (doc) { emit(doc._id, doc.n); emit([doc.n, "x"], {u: undefined, v: doc.v}); }');
    const out = sb.map(fn, [{ _id: 'a', n: 1, v: [1, 2] }, { _id: 'b', n: 2 }]);
    assert.deepEqual(out, [
      [['a', 1], [[1, 'x'], { v: [1, 2] }]],
      [['b', 2], [[2, 'x'], {}]],
    ]);
    assert.deepEqual(sb.map(fn, []), []);
  });

  it('maps undefined keys and values to null, as JSON.stringify does', () => {
    const fn = sb.compile('function (doc) { emit(doc.missing); emit(null, function () {}); }');
    assert.deepEqual(sb.map(fn, [{}]), [[[null, null], [null, null]]]);
  });

  it('accepts arrow functions, named functions and a trailing semicolon', () => {
    const arrow = sb.compile('(doc) => emit(doc.n, null)');
    const named = sb.compile('function byN(doc) { emit(doc.n, null); };  \n');
    const commented = sb.compile('function (doc) { emit(doc.n, 1) } // trailing comment');
    for (const fn of [arrow, named]) assert.deepEqual(sb.map(fn, [{ n: 3 }]), [[[3, null]]]);
    assert.deepEqual(sb.map(commented, [{ n: 3 }]), [[[3, 1]]]);
  });

  it('returns the same handle for the same source', () => {
    assert.equal(sb.compile('function (doc) { emit(1, 1) }'), sb.compile('function (doc) { emit(1, 1) }'));
  });

  it('reduces and rereduces with sum()', () => {
    const fn = sb.compile('function (keys, values, rereduce) { return rereduce ? sum(values) * 10 : sum(values); }');
    assert.equal(sb.reduce(fn, [[1, 'a'], [2, 'b']], [1, 2], false), 3);
    assert.equal(sb.reduce(fn, null, [3, 4], true), 70);
    const keysFn = sb.compile('function (keys) { return keys.map(function (k) { return k[1]; }); }');
    assert.deepEqual(sb.reduce(keysFn, [[1, 'a'], [2, 'b']], [1, 2], false), ['a', 'b']);
    assert.throws(() => sb.reduce(sb.compile('function () { throw new Error("bad reduce"); }'), null, [], true), {
      code: 'sandbox_error',
      reason: 'Error: bad reduce',
    });
  });

  it('filters per doc with req, truthy meaning true', () => {
    const fn = sb.compile('function (doc, req) { return doc.type === req.query.type ? 1 : ""; }');
    assert.deepEqual(sb.filter(fn, [{ type: 'a' }, { type: 'b' }], { query: { type: 'a' } }), [true, false]);
  });

  it('validates: accepts, forbidden, unauthorized and other throws', () => {
    const fn = sb.compile(`function (newDoc, oldDoc, userCtx, secObj) {
      if (newDoc.forbid) throw({forbidden: 'no ' + newDoc._id});
      if (!userCtx.name) throw({unauthorized: 'log in'});
      if (newDoc.crash) null.x;
      if (oldDoc && oldDoc.locked) throw({forbidden: secObj.admins.names[0] + ' locked it'});
    }`);
    const ctx = { name: 'bob', roles: [] };
    const sec = { admins: { names: ['ann'] } };
    assert.equal(sb.validate(fn, { _id: 'x' }, null, ctx, sec), undefined);
    assert.throws(() => sb.validate(fn, { _id: 'x', forbid: true }, null, ctx, sec), (err: unknown) => {
      assert.ok(err instanceof RefugeError);
      assert.equal(err.code, 'forbidden');
      assert.equal(err.status, 403);
      assert.equal(err.reason, 'no x');
      return true;
    });
    assert.throws(() => sb.validate(fn, { _id: 'x' }, null, { name: null }, sec), { code: 'unauthorized', reason: 'log in' });
    assert.throws(() => sb.validate(fn, { _id: 'x' }, { locked: true }, ctx, sec), { code: 'forbidden', reason: 'ann locked it' });
    assert.throws(() => sb.validate(fn, { _id: 'x', crash: true }, null, ctx, sec), (err: unknown) => {
      assert.ok(err instanceof RefugeError && err.code === 'sandbox_error' && err.reason.startsWith('TypeError: '));
      return true;
    });
  });

  it('collects full-text index() calls per doc, checking their arguments', () => {
    const fn = sb.compile(`function (doc) {
      if (doc.bad === 'field') index(1, 'x');
      if (doc.bad === 'reserved') index('_id', 'x');
      if (doc.bad === 'value') index('default', {});
      index('default', doc.title);
      index('year', doc.year, {store: true});
    }`);
    const out = sb.index(fn, [{ title: 'Hello', year: 2020 }, { bad: 'field' }, { bad: 'reserved' }, { bad: 'value' }]);
    assert.deepEqual(out[0], [['default', 'Hello', {}], ['year', 2020, { store: true }]]);
    assert.match((out[1] as RefugeError).reason, /^TypeError: name must be a string/);
    assert.match((out[2] as RefugeError).reason, /^ReservedName: /);
    assert.match((out[3] as RefugeError).reason, /^TypeError: value must be a string, a number or boolean/);
  });

  it('calls any function with JSON arguments', () => {
    const fn = sb.compile('function (a, b) { return {sum: a + b.n, list: [a, b], none: undefined}; }');
    assert.deepEqual(sb.call(fn, [1, { n: 2 }]), { sum: 3, list: [1, { n: 2 }] });
    assert.equal(sb.call(sb.compile('function () {}'), []), null);
  });

  it('resolves require() in the design document, relative paths and module.exports included', () => {
    const fn = sb.compile(`function (doc) {
      var math = require('views/lib/math');
      emit(math.double(doc.n), math.twice('ab'));
      emit(require('views/lib/up').quad(doc.n), require('lib/replaced')());
    }`);
    assert.deepEqual(sb.map(fn, [{ n: 2 }]), [[[4, 'abab'], [8, 'whole module']]]);
  });

  it('evaluates a module once per sandbox', () => {
    const fn = sb.compile('function () { return require("lib/counter").next(); }');
    assert.equal(sb.call(fn, []), 1);
    assert.equal(sb.call(fn, []), 2);
  });

  it('reports bad require() paths and failing modules like CouchDB', () => {
    const fn = sb.compile('function (path) { return require(path); }');
    assert.throws(() => sb.call(fn, ['lib/missing']), { code: 'sandbox_error', reason: 'invalid_require_path: Object has no property "missing"' });
    assert.throws(() => sb.call(fn, ['lib/notString']), { reason: 'invalid_require_path: Must require a JavaScript string, not: number' });
    assert.throws(() => sb.call(fn, ['lib']), { reason: 'invalid_require_path: Must require a JavaScript string, not: object' });
    assert.throws(() => sb.call(fn, ['lib/broken']), {
      code: 'compilation_error',
      reason: "Module require('lib/broken') raised error Error: module failed",
    });
    assert.throws(() => sb.call(fn, ['./x']), { reason: 'invalid_require_path: Object has no parent' });
  });

  it('sends log() output to the host, non-strings as JSON', () => {
    logs.length = 0;
    sb.call(sb.compile('function () { log("hello"); log({a: [1]}); }'), []);
    assert.deepEqual(logs, ['hello', '{"a":[1]}']);
  });

  it('rejects sources that are not a function or do not parse', () => {
    for (const source of ['function (doc) { emit(doc', '42', '"function"', '', 'var x = 1; function f() {}', 'doc => {']) {
      assert.throws(() => sb.compile(source), (err: unknown) => {
        assert.ok(err instanceof RefugeError, source);
        assert.equal(err.code, 'compilation_error');
        assert.equal(err.status, 400);
        return true;
      });
    }
    assert.throws(() => sb.compile('42'), { reason: 'Expression does not eval to a function. (42)' });
    assert.throws(() => sb.compile('function (doc) { emit(doc'), { reason: /^SyntaxError: / });
  });

  it('provides isArray and toJSON', () => {
    const fn = sb.compile('function (v) { return [isArray(v), isArray({}), toJSON(v)]; }');
    assert.deepEqual(sb.call(fn, [[1, 'a']]), [true, false, '[1,"a"]']);
  });

  it('works without a design document or a log sink', async () => {
    const bare = await createSandbox();
    try {
      const fn = bare.compile('function (doc) { log("ignored"); emit(doc.n, null); }');
      assert.deepEqual(bare.map(fn, [{ n: 1 }]), [[[1, null]]]);
      assert.throws(() => bare.call(bare.compile('function () { return require("lib/x"); }'), []), {
        reason: 'invalid_require_path: no design document modules are available',
      });
    } finally {
      bare.dispose();
    }
    assert.throws(() => bare.compile('function () {}'), { code: 'closed' });
  });

  it('refuses limits it cannot honour', async () => {
    await assert.rejects(createSandbox({ timeoutMs: 0 }), { code: 'bad_request' });
    await assert.rejects(createSandbox({ memoryBytes: -1 }), { code: 'bad_request' });
    await assert.rejects(createSandbox({ stackBytes: 64 * 1024 * 1024 }), { code: 'bad_request' });
  });
});
