// A json index narrows `$regex` with a literal prefix (and `$beginsWith`) to the strings whose
// collation key starts with the prefix's: never missing a match, checked against brute force.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileSelector } from '../../src/core.ts';
import type { Doc } from '../../src/documents/index.ts';
import { prepareIndex, rangeFor, WHOLE_INDEX } from '../../src/views/index.ts';
import { mangoGroup } from './helpers.ts';

// Text where case, accents, punctuation, ignorables and compatibility forms all weigh somewhere.
const unit = fc.constantFrom('a', 'A', 'b', '.', '-', ' ', 'é', 'e\u0301', 'ß', 'ﬁ', '\u0000', '\u200b', '😀', '1', '１');
const text = fc.string({ unit, maxLength: 4 });
const literal = fc.constantFrom('a', 'A', 'b', '\\.', '-', ' ', 'é', 'e\u0301', 'ß', 'f', '1', '😀');
const tail = fc.constantFrom('', '.*', '?', '|b', '$', '[ab]');
const clause = fc.oneof(
  fc.tuple(fc.constantFrom('^', '^', '(?i)^', ''), fc.array(literal, { minLength: 1, maxLength: 3 }), tail).map(([h, l, t]) => ({ $regex: h + l.join('') + t })),
  text.map((p) => ({ $beginsWith: p })),
);

describe('json index ranges for string prefixes', () => {
  test('every document the selector matches is in the range (fast-check, against brute force)', async () => {
    const { doc: ddoc } = prepareIndex({ index: { fields: ['k', 'n'] }, ddoc: 'p', name: 'i' }, undefined);
    const docArb = fc.record({ k: fc.oneof(text, text, fc.constantFrom<unknown>(1, null, ['a'], { a: 'a' })), n: fc.nat(2) });
    let narrowed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(docArb, { maxLength: 25 }), clause, fc.boolean(), async (raw, cond, withEq) => {
        const docs: Doc[] = raw.map((d, i) => ({ _id: `d${i}`, ...d }));
        const group = await mangoGroup(ddoc!, docs);
        // The prefix on the first field, or after an equality on it when the index leads with n.
        const selector = { k: cond, ...(withEq ? { n: 1 } : {}) };
        const match = compileSelector(selector);
        // Undefined (no prefix to narrow by): the index would not be chosen, and read whole if named.
        const range = rangeFor(selector, ['k', 'n']) ?? WHOLE_INDEX;
        if (range.gte !== WHOLE_INDEX.gte || range.lt !== WHOLE_INDEX.lt) narrowed++;
        const read = new Set<string>();
        for await (const row of group.scanRows('i', range)) read.add(row.id);
        for (const d of docs) if (match(d)) assert.ok(read.has(d._id!), `missed ${JSON.stringify(d)} for ${JSON.stringify(selector)}`);
      }),
      { numRuns: 400 },
    );
    assert.ok(narrowed > 100, `only ${narrowed} selectors narrowed the index`);
  });

  test('an ASCII prefix reads its own strings (any case), not every string', async () => {
    const { doc: ddoc } = prepareIndex({ index: { fields: ['k'] }, ddoc: 'p', name: 'i' }, undefined);
    const keys = ['ali', 'Alice', 'alibi', 'alj', 'al', 'bob', 'ALI-x', 'a.b', 'a.bc', 'axb', 'ālī'];
    const group = await mangoGroup(ddoc!, keys.map((k, i) => ({ _id: `d${i}`, k })));
    const read = async (selector: unknown) => {
      const out: string[] = [];
      for await (const row of group.scanRows('i', rangeFor(selector, ['k'])!)) out.push(keys[Number(row.id.slice(1))]!);
      return out.sort();
    };
    // Accents, like case, weigh after the letters: 'ālī' is read, and the pattern turns it down.
    assert.deepEqual(await read({ k: { $regex: '^ali' } }), ['ALI-x', 'Alice', 'ali', 'alibi', 'ālī']);
    assert.deepEqual(await read({ k: { $regex: '^a\\.b' } }), ['a.b', 'a.bc']);
    assert.deepEqual(await read({ k: { $beginsWith: 'al' } }), ['ALI-x', 'Alice', 'al', 'ali', 'alibi', 'alj', 'ālī']);
    // No prefix to narrow by: a case-insensitive or alternated pattern leaves the first field free.
    assert.equal(rangeFor({ k: { $regex: '(?i)^ali' } }, ['k']), undefined);
    assert.equal(rangeFor({ k: { $regex: '^(a|b)' } }, ['k']), undefined);
  });
});
