// The time limit holds for code QuickJS's interrupt handler cannot see: native builtins in a loop and
// branch-free callbacks (it polls only every ~10,000 backward branches). Such calls once overran a
// 200 ms limit by seconds to minutes, the node frozen meanwhile.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefugeError } from '../../src/errors/index.ts';
import { createSandbox, type DesignSandbox } from '../../src/sandbox/index.ts';

const TIMEOUT_MS = 200;
/** Generous for a loaded machine; the old overruns were 3.5 s, 13 s and 98 s. */
const BOUND_MS = 10 * TIMEOUT_MS;

const LOOPS = {
  'a native builtin in a loop': 'function (doc) { for (;;) "x".repeat(1e5).indexOf("y"); }',
  'a sort with a branch-free comparator': 'function (doc) { var b = new Array(1e5).fill(1); for (;;) b.sort(function (x, y) { return 0; }); }',
  'copying and reversing a large array': 'function (doc) { var b = new Array(2e5).fill(1); for (;;) b.slice().reverse(); }',
};

describe('sandbox hard time limit', () => {
  let sb: DesignSandbox;
  let plain: number;
  before(async () => {
    sb = await createSandbox({ timeoutMs: TIMEOUT_MS, memoryBytes: 16 * 1024 * 1024 });
    plain = sb.compile('function (doc) { emit(doc._id, doc.n); }');
  });
  after(() => sb.dispose());

  for (const [name, source] of Object.entries(LOOPS)) {
    it(`stops ${name} as a timeout, and the sandbox then still maps`, () => {
      const hostile = sb.compile(source);
      const started = performance.now();
      assert.throws(
        () => sb.map(hostile, [{ _id: 'a', n: 1 }]),
        (err: unknown) => err instanceof RefugeError && err.code === 'timeout' && err.reason === `function exceeded the time limit of ${TIMEOUT_MS} ms`,
      );
      const elapsed = performance.now() - started;
      assert.ok(elapsed < BOUND_MS, `stopped after ${Math.round(elapsed)} ms`);
      assert.deepEqual(sb.map(plain, [{ _id: 'a', n: 1 }]), [[['a', 1]]]);
    });
  }

  it('keeps every function compiled before a stop', () => {
    const kept = sb.compile('function (doc) { emit(doc.n, null); }');
    assert.throws(() => sb.map(sb.compile(LOOPS['a native builtin in a loop']), [{ _id: 'a' }]), { code: 'timeout' });
    assert.deepEqual(sb.map(kept, [{ n: 2 }]), [[[2, null]]]);
    assert.deepEqual(sb.map(plain, [{ _id: 'b', n: 3 }]), [[['b', 3]]]);
  });
});
