// `$regex` with a literal prefix is answered by a range of the path index, and its answers are
// exactly a full scan's: a property test over random documents and patterns, then explain's word.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { freshDb } from '../helpers/db.ts';
import type { Database } from '../../src/core.ts';

// Case pairs, a dot, combining and precomposed accents, astral and top code points, and the
// characters a pattern's syntax gives meaning to, so that prefixes and escapes meet real text.
const unit = fc.constantFrom('a', 'b', 'A', 'B', '.', '|', 'é', 'e\u0301', 'É', 'ß', '😀', '\uffff', '\u{10ffff}', '\n', ' ');
const text = fc.string({ unit, maxLength: 5 });
const name = fc.oneof(text, text, text, fc.array(text, { maxLength: 2 }), fc.constantFrom<unknown>(1, null, true, { a: 'a' }));
const docs = fc.array(fc.option(name, { nil: undefined }), { minLength: 1, maxLength: 25 });

// Literal pieces as a pattern writes them (escaped where the syntax needs it), heads that keep or
// lose the anchor, and tails that quantify, alternate or class the last piece.
const literal = fc.constantFrom('a', 'b', 'A', '\\.', '\\|', 'é', 'e\u0301', 'ß', '😀', '\u{10ffff}', ' ');
const head = fc.oneof({ arbitrary: fc.constant('^'), weight: 4 }, fc.constantFrom('(?i)^', '(?m)^', '', '^(?i)', '\\A'));
const tail = fc.constantFrom('', '', '.*', '?', '*', '+', '{0,2}', '|b', '(a|b)', '$', '[a.]', '[|]', '\\d*', '.', '|');
const pattern = fc.tuple(head, fc.array(literal, { maxLength: 3 }), tail, fc.nat(4)).map(([h, lits, t, wrap]) => {
  const body = h + lits.join('') + t;
  // `^(a|b)`: an alternation under the anchor, which must not become a range.
  return wrap === 0 ? `^(${lits.join('')}|b)${t}` : body;
});

async function ids(db: Database, selector: unknown): Promise<string[]> {
  const res = await db.find({ selector, limit: 1 << 20 });
  return res.docs.map((d) => d._id!).sort();
}

describe('$regex with a literal prefix, through the path index', () => {
  test('answers exactly what a full scan does (fast-check)', async () => {
    let ranges = 0;
    await fc.assert(
      fc.asyncProperty(docs, pattern, async (names, source) => {
        // Fresh databases per run: a scan of every earlier run's documents made this test quadratic.
        const indexed = await freshDb('memory');
        const scanned = await freshDb('memory', { autoIndex: false }, 'scanned');
        try {
          const batch = names.map((n, i) => ({ _id: `d-${i}`, ...(n === undefined ? {} : { name: n }) }));
          await indexed.db.bulkDocs(batch);
          await scanned.db.bulkDocs(batch);
          // Only the pattern, so that the planner has nothing but it to choose a scan by.
          const selector = { name: { $regex: source } };
          // A pattern RE2 refuses ("*", lookarounds) is refused alike both ways.
          const code = (e: { code?: string }) => e.code ?? String(e);
          const plan = await indexed.db.explain({ selector }).catch(code);
          if (typeof plan !== 'string' && (plan.index as { def?: { scan?: { kind: string } } }).def?.scan?.kind === 'range') ranges++;
          const [got, want] = await Promise.all([ids(indexed.db, selector).catch(code), ids(scanned.db, selector).catch(code)]);
          assert.deepEqual(got, want, `${JSON.stringify(source)} over ${JSON.stringify(names)}`);
        } finally {
          await indexed.cleanup();
          await scanned.cleanup();
        }
      }),
      { numRuns: 300 },
    );
    assert.ok(ranges > 50, `only ${ranges} patterns were read as a range`);
  });

  test('explain names the range and the clause; a case-insensitive or alternated pattern reads every string', async (t) => {
    const { db, cleanup } = await freshDb('memory');
    t.after(cleanup);
    await db.bulkDocs([{ _id: 'x', name: 'alice' }, { _id: 'y', name: 'bob' }]);
    const scanOf = async (source: string) => {
      const e = await db.explain({ selector: { name: { $regex: source } } });
      return { scan: (e.index as { def?: { scan?: unknown } }).def?.scan, reason: e.reason };
    };
    for (const [source, gte, lt] of [
      ['^ali', 'ali', 'alj'],
      ['^ali.*', 'ali', 'alj'],
      ['^a\\.b', 'a.b', 'a.c'],
      ['^ab?', 'a', 'b'],
      ['^😀', '😀', '😁'],
    ] as const) {
      const { scan, reason } = await scanOf(source);
      assert.deepEqual(scan, { kind: 'range', path: 'name', gte, lt }, source);
      assert.equal(reason, `range on name from $regex ${JSON.stringify(source)}`);
    }
    for (const source of ['(?i)^ali', '^(a|b)', '^ab|c', 'ali', '(?m)^ali', '^\\w']) {
      assert.deepEqual((await scanOf(source)).scan, { kind: 'exists', path: 'name', type: 'string' }, source);
    }
    assert.deepEqual((await db.find({ selector: { name: { $regex: '^ali' } } })).docs.map((d) => d._id), ['x']);
  });
});
