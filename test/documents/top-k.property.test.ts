// TopK keeps exactly the k first items of any stream, in order, as sorting the whole stream and
// keeping its k first would.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TopK } from '../../src/documents/top-k.ts';

test('TopK holds the k first of any stream, in order', () => {
  // Pairs with a tie-breaking second part: a total order, as Mango's sort is (ties by _id).
  const cmp = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
  fc.assert(
    fc.property(fc.array(fc.integer({ min: -20, max: 20 }), { maxLength: 300 }), fc.nat(320), (values, k) => {
      const items = values.map((v, i): [number, number] => [v, i]);
      const top = new TopK(k, cmp);
      for (const item of items) top.add(item);
      assert.deepEqual(top.take(), [...items].sort(cmp).slice(0, k));
      assert.deepEqual(top.take(), []);
    }),
    { numRuns: 500 },
  );
});
