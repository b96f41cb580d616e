// A changes row written by hand (changeRowJson: every `_changes` row a node sends) is the text
// JSON.stringify writes for it, whatever its id, revs, deletion and document.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { changeRowJson } from '../../src/documents/index.ts';
import { isValidRev } from '../../src/documents/rev-tree.ts';

const hashChar = fc.oneof(
  fc.constantFrom('a', '0', '-', ',', ':', '[', '}', 'é', '\u2028', '\u007f', '\u{1F600}'),
  fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => String.fromCharCode(c)),
);
const rev = fc
  .tuple(fc.integer({ min: 1, max: 999_999_999_999_999 }), fc.array(hashChar, { minLength: 1, maxLength: 40 }))
  .map(([gen, chars]) => `${gen}-${chars.join('')}`)
  .filter(isValidRev);

const row = fc.record(
  {
    seq: fc.oneof(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.string()),
    id: fc.string({ unit: 'binary' }),
    changes: fc.array(fc.record({ rev }), { minLength: 1, maxLength: 4 }),
    deleted: fc.constant(true as const),
    doc: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  },
  { requiredKeys: ['seq', 'id', 'changes'] },
);

test('a changes row by hand is JSON.stringify of the row', () => {
  fc.assert(
    fc.property(row, (r) => {
      assert.equal(changeRowJson(r), JSON.stringify(r));
    }),
    { numRuns: 3000 },
  );
});
