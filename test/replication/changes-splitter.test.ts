// The streamed changes reader's row splitter: whatever the pieces an answer arrives in, the rows
// and trailer are JSON.parse's; answers not written rows first are read whole; cut-short answers
// and oversized rows fail.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRefugeError } from '../../src/errors/index.ts';
import { ChangesSplitter } from '../../src/replication/changes-splitter.ts';

/** Runs `text` through a splitter in pieces cut at `cuts` (sorted offsets). */
function split(text: string, cuts: number[], maxRowChars = 1e9): { rows: unknown[]; trailer: unknown } {
  const s = new ChangesSplitter(maxRowChars);
  const rows: unknown[] = [];
  let from = 0;
  for (const at of [...cuts, text.length]) {
    rows.push(...s.push(text.slice(from, at)));
    from = at;
  }
  const end = s.end();
  return { rows: [...rows, ...end.rows], trailer: end.trailer };
}

/** The layouts servers write: compact (JSON.stringify's), a row per line (CouchDB, Refuge), with the
 * comma leading the line (Sync Gateway), CRLF, and one that only begins like CouchDB's. */
const LAYOUTS = ['compact', 'couch', 'crlf', 'leading', 'fake'] as const;
function laidOut(answer: { results: unknown[] } & Record<string, unknown>, layout: (typeof LAYOUTS)[number]): string {
  if (layout === 'compact') return JSON.stringify(answer);
  const { results, ...rest } = answer;
  const rows = results.map((r) => JSON.stringify(r));
  const trailer = JSON.stringify(rest).slice(1);
  if (layout === 'fake') return `{"results":[\n${rows.join(',')}],${trailer}`;
  if (layout === 'leading') return `{"results":[\n${rows.join('\n,')}\n],\n${trailer}\n`;
  const nl = layout === 'crlf' ? '\r\n' : '\n';
  return `{"results":[${nl}${rows.join(`,${nl}`)}${nl}],${nl}${trailer}${nl}`;
}

const tricky = fc.oneof(fc.string(), fc.constantFrom('"', '\\', '\\"', '{', '}', '[', ']', '\\\\"}', '"],"last_seq":9}', '\u2028', 'é😀'));
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(tricky, tie('value'), { maxKeys: 3 })),
})).value;
const row = fc.record({ seq: fc.oneof(fc.nat(), fc.string()), id: tricky, changes: fc.constant([{ rev: '1-a' }]), doc: json }, { requiredKeys: ['seq', 'id', 'changes'] });
const answer = fc.record({ results: fc.array(row, { maxLength: 8 }), last_seq: fc.oneof(fc.nat(), fc.string()), pending: fc.nat() }, { requiredKeys: ['results', 'last_seq'] });

test('rows and trailer come out as JSON.parse reads them, in every layout and any pieces', () => {
  fc.assert(
    fc.property(answer, fc.constantFrom(...LAYOUTS), fc.array(fc.nat(), { maxLength: 12 }), (a, layout, rawCuts) => {
      const text = laidOut(a, layout);
      const cuts = [...new Set(rawCuts.map((c) => c % (text.length + 1)))].sort((x, y) => x - y);
      const { results, ...trailer } = JSON.parse(text) as { results: unknown[] };
      assert.deepEqual(split(text, cuts), { rows: results, trailer });
    }),
    { numRuns: 400 },
  );
});

test("CouchDB's empty answer, and rows split across pieces mid-line", () => {
  assert.deepEqual(split('{"results":[\n\n],\n"last_seq":"0-g1AAAA","pending":0}\n', [13, 14]), { rows: [], trailer: { last_seq: '0-g1AAAA', pending: 0 } });
  const text = '{"results":[\n{"seq":1,"id":"a","changes":[]},\n{"seq":2,"id":"b","changes":[]}\n],\n"last_seq":2}';
  assert.deepEqual(split(text, [20, 40, 41]).rows, [{ seq: 1, id: 'a', changes: [] }, { seq: 2, id: 'b', changes: [] }]);
});

test('an answer whose rows do not come first is read whole', () => {
  const text = '{"last_seq":3,"results":[{"seq":3,"id":"a","changes":[]}]}';
  for (const cuts of [[], [1], [5, 20]]) {
    assert.deepEqual(split(text, cuts), { rows: [{ seq: 3, id: 'a', changes: [] }], trailer: { last_seq: 3 } });
  }
});

test('an answer cut short, or not an answer, fails rather than ending the feed early', () => {
  for (const text of ['{"results":[{"seq":1,"id":"a","changes":[]},{"seq":2', '{"results":[{"seq":1,"id":"a","changes":[]}', '{"results":[]', '<html>', '']) {
    assert.throws(() => split(text, [3]), (err: unknown) => err instanceof SyntaxError || isRefugeError(err, 'bad_gateway'), text);
  }
});

test('a row longer than the limit is too_large, whether it arrives whole or in pieces', () => {
  const big = JSON.stringify({ results: [{ seq: 1, id: 'a', changes: [], doc: { x: 'y'.repeat(500) } }], last_seq: 1 });
  for (const cuts of [[], [20], [20, 100, 300]]) {
    assert.throws(() => split(big, cuts, 200), (err: unknown) => isRefugeError(err, 'too_large'));
  }
  assert.equal(split(big, [], 1000).rows.length, 1);
});
