// Each sandbox's WebAssembly instance has a memory maximum from its heap limit: an allocation that
// QuickJS's own accounting misses still ends as "out of memory" there, not gigabytes later.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireModule, memoryPages } from '../../src/sandbox/module-pool.ts';

test('the bound: the build base plus twice the heap limit, in pages, never past 2 GiB', () => {
  assert.equal(memoryPages(16 * 1024 * 1024), 256 + 512);
  assert.equal(memoryPages(1), 257);
  assert.equal(memoryPages(2 ** 31), 32768);
  for (let mb = 1; mb < 2048; mb *= 2) assert.ok(memoryPages(mb * 1024 * 1024) < memoryPages(mb * 2 * 1024 * 1024) || memoryPages(mb * 2 * 1024 * 1024) === 32768);
});

test('an allocation loop under a 4 MiB limit ends as out of memory within the instance bound', async () => {
  const memoryBytes = 4 * 1024 * 1024;
  const module = await acquireModule(memoryBytes);
  const runtime = module.newRuntime();
  runtime.setMemoryLimit(memoryBytes);
  const context = runtime.newContext();
  try {
    for (const code of ['var a = []; for (;;) a.push(new Array(1e5).fill(a.length))', 'var s = []; for (;;) s.push("x".repeat(1e5) + s.length)']) {
      const result = context.evalCode(code);
      assert.ok(result.error, code);
      assert.equal((context.dump(result.error) as { message?: string }).message, 'out of memory', code);
      result.error.dispose();
      assert.ok(module.getWasmMemory().buffer.byteLength <= memoryPages(memoryBytes) * 65536, `${code}: ${module.getWasmMemory().buffer.byteLength} bytes`);
    }
    // The runtime still works once the loop's values are gone.
    const two = context.unwrapResult(context.evalCode('a = s = null; 1 + 1'));
    assert.equal(context.dump(two), 2);
    two.dispose();
  } finally {
    context.dispose();
    runtime.dispose();
  }
});
