// A record read to be rewritten has its head read by hand (doc-record.ts): it must read every
// record exactly as JSON.parse reads it, and leave any other layout to JSON.parse.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRecord, decodeRecordForWrite, encodeRecord, singleLeaf, type DocRecord } from '../../src/documents/doc-record.ts';
import { sortedLeaves } from '../../src/documents/rev-leaves.ts';
import type { RevTree } from '../../src/documents/rev-tree.ts';

/** Rev hashes as CouchDB takes them: anything but quotes, backslashes, control characters and surrogates. */
const hashChar = fc.oneof(
  fc.constantFrom('a', 'f', '0', '9', '-', ',', ':', '[', ']', '{', '}', 'n', 'u', 'l', ' ', 'é', '\u2028', '\u{1F600}'),
  fc.integer({ min: 0x20, max: 0xd7ff }).filter((c) => c !== 0x22 && c !== 0x5c).map((c) => String.fromCharCode(c)),
);
const rev = fc.tuple(fc.integer({ min: 1, max: 999_999_999_999_999 }), fc.array(hashChar, { minLength: 1, maxLength: 40 })).map(([gen, chars]) => `${gen}-${chars.join('')}`);

const tree = fc.uniqueArray(fc.tuple(rev, fc.option(rev, { nil: null }), fc.integer({ min: 0, max: 3 })), { selector: ([r]) => r, maxLength: 6 }).map((nodes) => {
  const out: RevTree = new Map();
  for (const [r, parent, flags] of nodes) out.set(r, { parent, deleted: (flags & 1) !== 0, available: (flags & 2) !== 0 });
  return out;
});

const record = fc.record({
  tree,
  rev,
  deleted: fc.boolean(),
  seq: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  body: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
});

function meta(r: DocRecord) {
  return { tree: [...r.tree], rev: r.rev, deleted: r.deleted, seq: r.seq, body: r.body };
}

test('a record read to be rewritten is read as JSON.parse reads it', () => {
  fc.assert(
    fc.property(record, (r) => {
      const encoded = encodeRecord(r);
      const written = decodeRecordForWrite('x', encoded);
      assert.deepEqual(meta(written), meta(decodeRecord('x', encoded)));
      assert.equal(written.bodyJson, encoded.slice(encoded.indexOf('\n') + 1));
    }),
    { numRuns: 2000 },
  );
});

test('other layouts are left to JSON.parse: the older object tree, a head with spaces, no body', () => {
  const older = '{"r":"2-b","d":0,"s":7,"t":{"1-a":[null,0],"2-b":["1-a",2]}}\n{"v":1}';
  const spaced = '{"r":"2-b", "d":0,"s":7,"t":["1-a",null,0,"2-b","1-a",2]}\n{"v":1}';
  for (const value of [older, spaced, '{"r":"1-a","d":1,"s":3,"t":["1-a",null,3]}']) {
    assert.deepEqual(meta(decodeRecordForWrite('x', value)), meta(decodeRecord('x', value)));
  }
  assert.deepEqual([...decodeRecordForWrite('x', older).tree.keys()], ['1-a', '2-b']);
});

test('a record told to hold a single run has exactly one leaf, and every line is told so', () => {
  fc.assert(
    fc.property(record, (r) => {
      const encoded = encodeRecord(r);
      if (singleLeaf(encoded)) assert.equal(sortedLeaves(decodeRecord('x', encoded).tree).length, 1, encoded);
    }),
    { numRuns: 2000 },
  );
  // Lines as edits make them: consecutive generations, each the child of the one before (a stemmed
  // line starts past generation 1).
  const line = fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.array(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 8 }), fc.boolean());
  fc.assert(
    fc.property(line, ([start, hashes, deleted]) => {
      const tree: RevTree = new Map();
      let parent: string | null = null;
      hashes.forEach((h, i) => {
        const r = `${start + i}-${h}`;
        tree.set(r, { parent, deleted: deleted && i === hashes.length - 1, available: i === hashes.length - 1 });
        parent = r;
      });
      const encoded = encodeRecord({ tree, rev: parent!, deleted, seq: 5, body: { a: 1 } } as unknown as DocRecord);
      assert.ok(singleLeaf(encoded), `a line is one run: ${encoded}`);
      assert.deepEqual(sortedLeaves(decodeRecord('x', encoded).tree).map((l) => l.rev), [parent], 'its leaf is its last revision');
    }),
    { numRuns: 500 },
  );
});
