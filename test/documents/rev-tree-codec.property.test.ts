// The stored revision tree (rev-tree-codec.ts): any tree a document can hold (branches, deleted
// leaves, bodies compacted away, roots stemmed) reads back as it was, in its own order; and the
// forms earlier versions stored read as the same tree.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTree, decodeTreeText, encodeFlatText, encodeTreeText } from '../../src/documents/rev-tree-codec.ts';
import { dropInternalBodies, stem } from '../../src/documents/rev-stemming.ts';
import { revGeneration, type Rev, type RevTree } from '../../src/documents/rev-tree.ts';

const RUNS = { numRuns: 1000 };

/** Rev hashes as CouchDB takes them: anything but quotes, backslashes, control characters and surrogates. */
const hashChar = fc.oneof(
  fc.constantFrom('a', 'f', '0', '9', '-', ',', ':', '[', ']', '{', '}', 'n', 'u', 'l', ' ', 'é', '\u2028', '\u{1F600}'),
  fc.integer({ min: 0x20, max: 0xd7ff }).filter((c) => c !== 0x22 && c !== 0x5c).map((c) => String.fromCharCode(c)),
);
const hashArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
  fc.array(hashChar, { minLength: 1, maxLength: 12 }).map((c) => c.join('')),
);

/**
 * Trees grown as documents grow them, in the order they are written: each step extends the
 * newest revision (most often: long lines), branches from any revision, or adds a root, stemmed
 * (its parent not held) or not; any revision may be deleted or have no body. Then maybe stemmed
 * and compacted, as writes and compaction leave them.
 */
const treeArb: fc.Arbitrary<RevTree> = fc
  .tuple(
    fc.array(
      fc.record({ kind: fc.integer({ min: 0, max: 9 }), pick: fc.nat(), gen: fc.integer({ min: 1, max: 999_999_999_999_960 }), flags: fc.integer({ min: 0, max: 3 }), hash: hashArb }),
      { minLength: 0, maxLength: 30 },
    ),
    fc.option(fc.integer({ min: 1, max: 8 })),
    fc.boolean(),
  )
  .map(([steps, limit, compact]) => {
    let tree: RevTree = new Map();
    const revs: Rev[] = [];
    steps.forEach((s, i) => {
      let parent: Rev | null;
      if (revs.length === 0 || s.kind === 0) parent = s.gen > 1 && s.pick % 2 === 0 ? `${s.gen - 1}-gone${i}` : null;
      else parent = s.kind < 6 ? revs[revs.length - 1]! : revs[s.pick % revs.length]!;
      const gen = parent === null ? s.gen : revGeneration(parent) + 1;
      const rev = `${gen}-${s.hash}${i}`;
      revs.push(rev);
      tree.set(rev, { parent, deleted: (s.flags & 1) !== 0, available: (s.flags & 2) !== 0 });
    });
    if (limit !== null) tree = stem(tree, limit);
    return compact ? dropInternalBodies(tree).tree : tree;
  });

/** The older rev -> [parent, flags] object form. */
function objectForm(tree: RevTree): Record<Rev, [Rev | null, number]> {
  const out: Record<Rev, [Rev | null, number]> = {};
  for (const [rev, n] of tree) out[rev] = [n.parent, (n.deleted ? 1 : 0) | (n.available ? 2 : 0)];
  return out;
}

describe('stored revision trees', () => {
  test('read back as written, in order', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const text = encodeTreeText(tree);
        assert.deepEqual([...decodeTreeText(text)], [...tree]);
        assert.deepEqual([...decodeTree(JSON.parse(text))], [...tree]);
        // A line is stored as its one run, anything else as a list of runs.
        const second = text.charCodeAt(1);
        assert.ok(text === '[]' || second === 91 || (second >= 49 && second <= 57), text);
      }),
      RUNS,
    );
  });

  test('the flat form and the object form of earlier versions read as the same tree', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        assert.deepEqual([...decodeTreeText(encodeFlatText(tree))], [...tree]);
        assert.deepEqual(decodeTreeText(JSON.stringify(objectForm(tree))), tree);
        assert.deepEqual(decodeTree(objectForm(tree)), tree);
      }),
      RUNS,
    );
  });

  test('a run never takes more room than the flat form', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        // A run of one revision costs its brackets and its flags as a string: four bytes more than
        // the flat form's entry. A run of more saves each one's rev id written again as a parent.
        assert.ok(encodeTreeText(tree).length <= encodeFlatText(tree).length + 4 * tree.size + 2);
      }),
      RUNS,
    );
  });

  test('a line of 1000 revisions takes 36 bytes a revision (its hash and flag), the flat form over 80', () => {
    const tree: RevTree = new Map();
    let parent: Rev | null = '2000-' + 'f'.repeat(32);
    for (let gen = 2001; gen <= 3000; gen++) {
      const rev = `${gen}-${gen.toString(16).padStart(32, '0')}`;
      tree.set(rev, { parent, deleted: false, available: true });
      parent = rev;
    }
    const text = encodeTreeText(tree);
    assert.ok(text.length < 36.1 * 1000, `${text.length}`);
    assert.ok(encodeFlatText(tree).length > 80 * 1000);
    assert.deepEqual([...decodeTreeText(text)], [...tree]);
  });
});
