// An edit extending a line of revisions on its stored text (rev-line.ts) against the tree it
// stands for: the text it writes is the one the tree, grown and stemmed, would be stored as, and
// what it says stemming dropped is what stem() drops; a new document's line is its one-revision tree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { extendLine, lineStart, newLine } from '../../src/documents/rev-line.ts';
import { encodeFlatText, encodeTreeText } from '../../src/documents/rev-tree-codec.ts';
import { stem } from '../../src/documents/rev-stemming.ts';
import { addRevision, type Rev, type RevTree } from '../../src/documents/rev-tree.ts';

const hashArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
  fc.string({ unit: fc.constantFrom('a', '0', '-', ',', '[', ']', ' ', 'é', '\u{1F600}'), minLength: 1, maxLength: 6 }),
);

/** A line as documents hold one: from a root or a stemmed start (its parent kept or not), any flags. */
const lineArb = fc
  .record({
    start: fc.integer({ min: 1, max: 999_999_999_999_900 }),
    stemmedParent: fc.boolean(),
    revs: fc.array(fc.record({ hash: hashArb, flags: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 12 }),
  })
  .map(({ start, stemmedParent, revs }) => {
    const tree: RevTree = new Map();
    let parent: Rev | null = start > 1 && stemmedParent ? `${start - 1}-gone` : null;
    revs.forEach((r, i) => {
      const rev = `${start + i}-${r.hash}${i}`;
      tree.set(rev, { parent, deleted: (r.flags & 1) !== 0, available: (r.flags & 2) !== 0 });
      parent = rev;
    });
    return { tree, leaf: parent!, next: start + revs.length };
  });

test('extending a line on its text stores what growing and stemming the tree stores', () => {
  fc.assert(
    fc.property(lineArb, hashArb, fc.boolean(), fc.integer({ min: 1, max: 15 }), ({ tree, leaf, next }, hash, deleted, limit) => {
      const text = encodeTreeText(tree);
      const rev = `${next}-${hash}new`;
      const grown = addRevision(tree, rev, leaf, deleted);
      const stemmed = stem(grown, limit);
      const edit = extendLine(text, leaf, rev, deleted, limit);
      assert.ok(edit);
      assert.equal(edit.text, encodeTreeText(stemmed));
      assert.equal(edit.grown, stemmed === grown ? undefined : encodeTreeText(grown));
      const dropped = [...grown].filter(([r, n]) => !stemmed.has(r) && n.available && r !== leaf).map(([r]) => r);
      assert.deepEqual(edit.stemmedBodies, dropped);
      assert.equal(edit.leafAvailable, tree.get(leaf)!.available);
      assert.equal(edit.leafKept, stemmed.has(leaf));
      assert.equal(lineStart(edit.text), Number.parseInt([...stemmed.keys()][0]!, 10));
    }),
    { numRuns: 2000 },
  );
});

test('anything but a line ending at the leaf, extended by its child, is left to the tree', () => {
  fc.assert(
    fc.property(lineArb, hashArb, ({ tree, leaf, next }, hash) => {
      const text = encodeTreeText(tree);
      const rev = `${next}-${hash}new`;
      // Another revision of the line, a child of the wrong generation, the older flat form.
      const inner = [...tree.keys()].find((r) => r !== leaf);
      if (inner !== undefined) assert.equal(extendLine(text, inner, rev, false, 10), undefined);
      assert.equal(extendLine(text, leaf, `${next + 1}-${hash}`, false, 10), undefined);
      assert.equal(extendLine(encodeFlatText(tree), leaf, rev, false, 10), undefined);
      // A sibling of the leaf: the tree is no line any more.
      const branched = addRevision(tree, `${next - 1}-${hash}other`, tree.get(leaf)!.parent, false);
      assert.equal(lineStart(encodeTreeText(branched)), 0);
      assert.equal(extendLine(encodeTreeText(branched), leaf, rev, false, 10), undefined);
      assert.equal(extendLine(text, leaf, rev, false, 0), undefined);
    }),
    { numRuns: 500 },
  );
});

test("a new document's line is the text of the one-revision tree the general way builds", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }), fc.boolean(), (hash, deleted) => {
      const rev = `1-${hash}`;
      const text = newLine(rev, deleted);
      assert.equal(text, encodeTreeText(addRevision(undefined, rev, null, deleted)));
      assert.equal(lineStart(text), 1, 'a line the next edit extends on its text');
    }),
  );
});
