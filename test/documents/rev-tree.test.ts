// Unit tests for the revision tree (CouchDB key-tree semantics). The merge/stem/leaf cases follow
// the spirit of CouchDB's couch_key_tree tests, restated for Refuge's flat (rev -> parent) form.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RefugeError, isRefugeError } from '../../src/errors/index.ts';
import {
  addRevision,
  ancestry,
  isForeignRev,
  isValidRev,
  isValidRevHash,
  mergePath,
  parseRev,
  revGeneration,
  revsInfo,
} from '../../src/documents/rev-tree.ts';
import {
  compareLeaves,
  conflicts,
  deletedConflicts,
  isLeaf,
  latestLeaves,
  leaves,
  revsDiff,
  sortedLeaves,
  winner,
} from '../../src/documents/rev-leaves.ts';
import { dropInternalBodies, stem } from '../../src/documents/rev-stemming.ts';
import { decodeTree, decodeTreeText, encodeFlatText, encodeTreeText } from '../../src/documents/rev-tree-codec.ts';
import type { Rev, RevTree } from '../../src/documents/rev-tree.ts';

/** Merges histories (newest first) in order; `~` before a head marks it deleted. */
function build(...paths: string[][]): RevTree {
  let tree: RevTree = new Map();
  for (const p of paths) {
    const deleted = p[0]!.startsWith('~');
    const path = p.map((r) => r.replace(/^~/, ''));
    tree = mergePath(tree, path, deleted).tree;
  }
  return tree;
}

const sortRevs = (revs: Rev[]) => [...revs].sort();

function deepFreeze<T>(tree: T): T {
  for (const v of Object.values(tree as object)) Object.freeze(v);
  return Object.freeze(tree);
}

const isBadRequest = (err: unknown) => isRefugeError(err, 'bad_request');

describe('rev ids', () => {
  test('parseRev and isValidRev accept N-hex', () => {
    const hash = '0123456789abcdef0123456789abcdef';
    assert.deepEqual(parseRev(`1-${hash}`), { gen: 1, hash });
    assert.deepEqual(parseRev('42-a'), { gen: 42, hash: 'a' });
    assert.deepEqual(parseRev(`999999999999999-${'f'.repeat(64)}`), { gen: 999_999_999_999_999, hash: 'f'.repeat(64) });
    // 16 digits may be past 2^53, where generations stop being exact (9999999999999999 reads as 1e16).
    assert.throws(() => parseRev(`9999999999999999-${'f'.repeat(64)}`), /Invalid rev format/);
    assert.equal(isValidRev('9007199254740993-a'), false);
    assert.equal(isValidRev(`1-${hash}`), true);
    assert.equal(revGeneration('17-abc'), 17);
  });

  test('hashes need not be hex: CouchDB and PouchDB replicate any (1-x, 2-randomid, 1-ABC)', () => {
    for (const rev of ['1-x', '2-randomid', '1-ABC', '1-abc-def', '3-a b', '1-ünï']) assert.equal(isValidRev(rev), true, rev);
    assert.deepEqual(parseRev('2-randomid'), { gen: 2, hash: 'randomid' });
  });

  test('a hash of 32 characters is hex, as CouchDB reads it (couch_doc:parse_revid), or the rev is refused', () => {
    assert.equal(isValidRev(`1-${'A'.repeat(32)}`), true, 'hex in capitals');
    for (const hash of ['z'.repeat(32), 'a'.repeat(31) + 'g', 'a'.repeat(31) + ' ']) {
      assert.equal(isValidRev(`1-${hash}`), false, hash);
      assert.equal(isForeignRev(`1-${hash}`), false, `${hash}: not looked for either (CouchDB answers 400)`);
      assert.throws(() => parseRev(`1-${hash}`), /Invalid rev format/);
    }
    assert.equal(isValidRevHash('z'.repeat(32)), false);
    // Any other length may hold anything a hash may.
    for (const hash of ['z'.repeat(31), 'z'.repeat(33)]) assert.equal(isValidRev(`1-${hash}`), true, hash);
  });

  const bad: unknown[] = [
    '',
    '1',
    '1-',
    '-abc',
    '0-abc',
    '01-abc',
    '-1-abc',
    ' 1-abc',
    '1_abc',
    '1.5-abc',
    'abc',
    // What cannot sit in keys or hand-made JSON: quotes, backslashes, control characters.
    '1-a"b',
    '1-a\\b',
    '1-a\u0000b',
    '1-\ud800',
    `1-${'a'.repeat(129)}`,
    `12345678901234567-abc`,
    '1-abc\n',
    'constructor',
    12,
    null,
    undefined,
    {},
    ['1-abc'],
    { gen: 1, hash: 'a' },
  ];
  for (const input of bad) {
    test(`rejects ${JSON.stringify(input) ?? String(input)}`, () => {
      assert.equal(isValidRev(input), false);
      assert.throws(() => parseRev(input), (err: unknown) => {
        assert.ok(err instanceof RefugeError);
        assert.equal(err.code, 'bad_request');
        assert.equal(err.status, 400);
        return true;
      });
    });
  }
});

describe('mergePath', () => {
  test('into an empty tree: head has a body, ancestors are known by id only', () => {
    const { tree, added } = mergePath(new Map(), ['3-c', '2-b', '1-a'], false);
    assert.equal(added, true);
    assert.deepEqual(Object.fromEntries(tree), {
      '1-a': { parent: null, deleted: false, available: false },
      '2-b': { parent: '1-a', deleted: false, available: false },
      '3-c': { parent: '2-b', deleted: false, available: true },
    });
    assert.deepEqual(leaves(tree), ['3-c']);
    assert.deepEqual(winner(tree), { rev: '3-c', deleted: false });
  });

  test('an empty path changes nothing', () => {
    const tree = build(['1-a']);
    const r = mergePath(tree, [], false);
    assert.equal(r.tree, tree);
    assert.equal(r.added, false);
  });

  test('merging the same path twice is a no-op (same object back)', () => {
    const tree = deepFreeze(build(['3-c', '2-b', '1-a']));
    const r = mergePath(tree, ['3-c', '2-b', '1-a'], false);
    assert.equal(r.added, false);
    assert.equal(r.tree, tree);
  });

  test('merging a known prefix (an ancestor history) is a no-op once bodies are known', () => {
    const tree = deepFreeze(build(['2-b', '1-a'], ['3-c', '2-b', '1-a']));
    const r = mergePath(tree, ['2-b', '1-a'], false);
    assert.equal(r.added, false);
    assert.equal(r.tree, tree);
  });

  test('a path that extends a leaf makes one longer branch', () => {
    const base = deepFreeze(build(['2-b', '1-a']));
    const { tree, added } = mergePath(base, ['4-d', '3-c', '2-b', '1-a'], false);
    assert.equal(added, true);
    assert.deepEqual(leaves(tree), ['4-d']);
    assert.deepEqual(ancestry(tree, '4-d'), ['4-d', '3-c', '2-b', '1-a']);
    // 2-b keeps its body: merging never loses what is known.
    assert.equal(tree.get('2-b')!.available, true);
    assert.equal(tree.get('3-c')!.available, false);
    // The input was not mutated.
    assert.equal([...base.keys()].length, 2);
  });

  test('a conflicting branch keeps both leaves; the higher rev string wins', () => {
    const tree = build(['2-b', '1-a'], ['2-f', '1-a']);
    assert.deepEqual(sortRevs(leaves(tree)), ['2-b', '2-f']);
    assert.deepEqual(winner(tree), { rev: '2-f', deleted: false });
    assert.deepEqual(conflicts(tree), ['2-b']);
    assert.deepEqual(deletedConflicts(tree), []);
    assert.equal(tree.get('1-a')!.parent, null);
  });

  test('a path with a different root makes a second tree', () => {
    const tree = build(['2-b', '1-a'], ['2-d', '1-c']);
    assert.deepEqual(sortRevs(leaves(tree)), ['2-b', '2-d']);
    assert.equal(tree.get('1-c')!.parent, null);
    assert.deepEqual(winner(tree).rev, '2-d');
  });

  test('a stemmed history whose root is deeper joins where it overlaps', () => {
    const tree = build(['3-c', '2-b', '1-a'], ['5-e', '4-d', '3-c']);
    assert.deepEqual(leaves(tree), ['5-e']);
    assert.deepEqual(ancestry(tree, '5-e'), ['5-e', '4-d', '3-c', '2-b', '1-a']);
  });

  test('a stemmed history that does not overlap stays apart until a linking history arrives', () => {
    const apart = build(['2-b', '1-a'], ['4-d', '3-c']);
    assert.deepEqual(sortRevs(leaves(apart)), ['2-b', '4-d']);
    assert.equal(apart.get('3-c')!.parent, null);
    const joined = mergePath(apart, ['3-c', '2-b'], false);
    // 3-c was known by id only, so its body is new.
    assert.equal(joined.added, true);
    assert.deepEqual(leaves(joined.tree), ['4-d']);
    assert.deepEqual(ancestry(joined.tree, '4-d'), ['4-d', '3-c', '2-b', '1-a']);
  });

  test('a history whose head is a known leaf still teaches its missing parent link', () => {
    const tree = build(['4-d', '3-c']);
    const r = mergePath(tree, ['4-d', '3-c', '2-b', '1-a'], false);
    assert.equal(r.added, false);
    assert.notEqual(r.tree, tree);
    assert.deepEqual(ancestry(r.tree, '4-d'), ['4-d', '3-c', '2-b', '1-a']);
  });

  // Regression: a history whose head was already known skipped the revs it brought, so the tree
  // depended on the order histories arrived in.
  test('regression: a known head still brings its unknown ancestors (order independence)', () => {
    const h1 = ['3-c', '2-b'];
    const h2 = ['2-b', '1-a'];
    const ab = build(h1, h2);
    const ba = build(h2, h1);
    assert.deepEqual(ab, ba);
    assert.deepEqual(ancestry(ab, '3-c'), ['3-c', '2-b', '1-a']);
    assert.deepEqual(ab.get('1-a'), { parent: null, deleted: false, available: false });
  });

  // Regression: a rev first known only as an ancestor never got its body or deleted flag when its
  // own history arrived later, so the tree depended on arrival order.
  test('regression: a head known only as an ancestor gets its body and deleted flag', () => {
    const tree = build(['4-d', '3-c', '2-b', '1-a']);
    assert.equal(tree.get('3-c')!.available, false);
    const r = mergePath(tree, ['3-c', '2-b', '1-a'], true);
    assert.equal(r.added, true);
    assert.deepEqual(r.tree.get('3-c'), { parent: '2-b', deleted: true, available: true });
    // Same tree as in the other order.
    assert.deepEqual(r.tree, build(['~3-c', '2-b', '1-a'], ['4-d', '3-c', '2-b', '1-a']));
    // Only leaves decide the winner: 4-d (not deleted) still wins.
    assert.deepEqual(winner(r.tree), { rev: '4-d', deleted: false });
  });

  test('a compacted ancestor gets its body back when its history arrives again', () => {
    const compacted = dropInternalBodies(build(['2-b', '1-a'], ['3-c', '2-b', '1-a'])).tree;
    assert.equal(compacted.get('2-b')!.available, false);
    const r = mergePath(compacted, ['2-b', '1-a'], false);
    assert.equal(r.added, true);
    assert.equal(r.tree.get('2-b')!.available, true);
  });

  test('a known head with its body is never overwritten (deleted flag kept)', () => {
    const tree = build(['~2-b', '1-a']);
    const r = mergePath(tree, ['2-b', '1-a'], false);
    assert.equal(r.added, false);
    assert.equal(r.tree, tree);
    assert.equal(r.tree.get('2-b')!.deleted, true);
  });

  test('a known parent link is never replaced by another one', () => {
    const tree = build(['2-b', '1-a']);
    // A forged history claiming another parent for 2-b: the first fact stays.
    const r = mergePath(tree, ['3-c', '2-b', '1-f'], false);
    assert.equal(r.tree.get('2-b')!.parent, '1-a');
    assert.equal(r.tree.get('1-f')!.parent, null);
  });

  test('rejects malformed histories without changing anything', () => {
    const tree = deepFreeze(build(['1-a']));
    const bad: string[][] = [
      ['2-b', '2-b'], // a rev as its own parent would loop forever
      ['3-c', '1-a'], // generation gap
      ['1-a', '2-b'], // oldest first
      ['2-b', 'x'],
      ['not-a-rev'],
      ['2-b', '1-a', '0-e7'],
    ];
    for (const path of bad) assert.throws(() => mergePath(tree, path, false), isBadRequest, JSON.stringify(path));
  });

  test('rev ids that look like Object.prototype members are ordinary unknown revs', () => {
    const tree = build(['1-a']);
    assert.deepEqual(revsDiff(tree, ['constructor', 'toString']).missing, ['constructor', 'toString']);
    assert.equal(isLeaf(tree, 'constructor'), false);
    assert.deepEqual(latestLeaves(tree, 'hasOwnProperty'), []);
    assert.deepEqual(revsInfo(tree, 'constructor'), []);
    assert.deepEqual(ancestry(tree, '__proto__'), []);
  });
});

describe('addRevision', () => {
  test('a local edit extends a leaf; a null parent starts a new root', () => {
    let tree = addRevision(new Map(), '1-a', null, false);
    tree = addRevision(tree, '2-b', '1-a', false);
    assert.deepEqual(leaves(tree), ['2-b']);
    assert.deepEqual(tree.get('2-b'), { parent: '1-a', deleted: false, available: true });
    const t2 = addRevision(tree, '3-c', '2-b', true);
    assert.deepEqual(winner(t2), { rev: '3-c', deleted: true });
    // Immutability: the previous tree is unchanged.
    assert.deepEqual(leaves(tree), ['2-b']);
  });
});

describe('leaves, winner and conflicts', () => {
  test('a non-deleted leaf beats a deleted one of higher generation', () => {
    const tree = build(['2-b', '1-a'], ['~5-e', '4-d', '3-c', '2-c', '1-a']);
    assert.deepEqual(winner(tree), { rev: '2-b', deleted: false });
    assert.deepEqual(conflicts(tree), []);
    assert.deepEqual(deletedConflicts(tree), ['5-e']);
  });

  test('then the higher generation wins (numerically: 10 beats 9)', () => {
    const tree = build(['10-a'], ['9-f']);
    assert.deepEqual(winner(tree), { rev: '10-a', deleted: false });
    assert.deepEqual(conflicts(tree), ['9-f']);
  });

  test('then the higher rev string wins', () => {
    const tree = build(['3-abc'], ['3-abd'], ['3-ab']);
    assert.deepEqual(winner(tree).rev, '3-abd');
    assert.deepEqual(conflicts(tree), ['3-abc', '3-ab']);
  });

  test('a 32-character hex hash ranks by the 16 bytes it spells, any other by its bytes (CouchDB parse_revid)', () => {
    const [e32, b32, a32, h7] = [`2-${'e'.repeat(32)}`, `2-${'B'.repeat(32)}`, `2-${'a'.repeat(32)}`, `2-7${'0'.repeat(31)}`];
    const f40 = `2-${'f'.repeat(40)}`;
    // 0xee.. beats Couchbase Lite's 40 characters 'f' (0x66), though its text sorts lower.
    assert.equal(winner(build([e32], [f40])).rev, e32);
    assert.deepEqual(sortedLeaves(build([f40], ['2-g'], [e32])).map((l) => l.rev), [e32, '2-g', f40]);
    // 0x70 0x00.. beats 'p' (0x70): equal first byte, then the longer binary.
    assert.equal(winner(build(['2-p'], [h7])).rev, h7);
    // Hex is read case-blind: 0xbb.. beats 0xaa.., though 'B' sorts below 'a' as text.
    assert.equal(winner(build([a32], [b32])).rev, b32);
    assert.deepEqual(conflicts(build([a32], [b32])), [a32]);
    // Hashes of one length (not capital hex) keep text order.
    assert.equal(winner(build(['2-abd'], ['2-abc'])).rev, '2-abd');
    assert.equal(compareLeaves({ rev: e32, deleted: false }, { rev: f40, deleted: false }) < 0, true);
  });

  test('when every leaf is deleted, the best deleted leaf wins and the document reads as deleted', () => {
    const tree = build(['~3-c', '2-b', '1-a'], ['~2-f', '1-a']);
    assert.deepEqual(winner(tree), { rev: '3-c', deleted: true });
    assert.deepEqual(conflicts(tree), []);
    assert.deepEqual(deletedConflicts(tree), ['2-f']);
  });

  test('conflicts and deleted conflicts are listed best first, never including the winner', () => {
    const tree = build(['4-d', '3-c', '2-b', '1-a'], ['3-e', '2-b'], ['3-f', '2-b'], ['~3-9', '2-b'], ['~2-1', '1-a']);
    assert.deepEqual(sortedLeaves(tree), [
      { rev: '4-d', deleted: false },
      { rev: '3-f', deleted: false },
      { rev: '3-e', deleted: false },
      { rev: '3-9', deleted: true },
      { rev: '2-1', deleted: true },
    ]);
    assert.deepEqual(conflicts(tree), ['3-f', '3-e']);
    assert.deepEqual(deletedConflicts(tree), ['3-9', '2-1']);
  });

  test('compareLeaves orders as CouchDB does and is 0 only for the same leaf', () => {
    const a = { rev: '2-b', deleted: false };
    assert.equal(compareLeaves(a, { ...a }), 0);
    assert.ok(compareLeaves(a, { rev: '9-f', deleted: true }) < 0);
    assert.ok(compareLeaves({ rev: '3-a', deleted: false }, a) < 0);
    assert.ok(compareLeaves({ rev: '2-c', deleted: false }, a) < 0);
    assert.ok(compareLeaves(a, { rev: '2-c', deleted: false }) > 0);
  });

  test('an empty tree has no winner', () => {
    assert.throws(() => winner(new Map()), (err: unknown) => isRefugeError(err, 'internal'));
    assert.deepEqual(leaves(new Map()), []);
    assert.deepEqual(conflicts(new Map()), []);
  });

  test('isLeaf and leaves agree; a node whose parent was stemmed is still a leaf or an inner node', () => {
    const tree = stem(build(['3-c', '2-b', '1-a'], ['3-d', '2-b']), 2);
    assert.deepEqual(sortRevs(leaves(tree)), ['3-c', '3-d']);
    for (const rev of [...tree.keys()]) assert.equal(isLeaf(tree, rev), leaves(tree).includes(rev), rev);
    assert.equal(isLeaf(tree, '1-a'), false);
    assert.equal(isLeaf(tree, '9-e7'), false);
  });

  test('ancestry follows parents while present, newest first, up to a limit', () => {
    const tree = build(['4-d', '3-c', '2-b', '1-a']);
    assert.deepEqual(ancestry(tree, '4-d', 2), ['4-d', '3-c']);
    assert.deepEqual(ancestry(tree, '2-b'), ['2-b', '1-a']);
    assert.deepEqual(ancestry(tree, '9-e7'), []);
    assert.deepEqual(ancestry(stem(tree, 3), '4-d'), ['4-d', '3-c', '2-b']);
  });
});

describe('stem', () => {
  const linear = () => build(['5-e', '4-d', '3-c', '2-b', '1-a']);

  test('keeps the newest `limit` revs of a linear history and their parent pointers', () => {
    const tree = stem(linear(), 3);
    assert.deepEqual(sortRevs([...tree.keys()]), ['3-c', '4-d', '5-e']);
    // The oldest kept rev still names its dropped parent, so a later merge can rejoin it.
    assert.equal(tree.get('3-c')!.parent, '2-b');
    assert.deepEqual(winner(tree), { rev: '5-e', deleted: false });
  });

  test('a limit at or above the depth changes nothing (same object)', () => {
    const tree = linear();
    assert.equal(stem(tree, 5), tree);
    assert.equal(stem(tree, 1000), tree);
  });

  test('limit 1 keeps only the leaves', () => {
    const tree = stem(build(['5-e', '4-d', '3-c', '2-b', '1-a'], ['3-e9', '2-b']), 1);
    assert.deepEqual(sortRevs([...tree.keys()]), ['3-e9', '5-e']);
  });

  test('with branches, a rev is kept when it is within the limit of any leaf', () => {
    const tree = build(['5-e', '4-d', '3-c', '2-b', '1-a'], ['3-e9', '2-b', '1-a']);
    assert.deepEqual(sortRevs([...stem(tree, 2).keys()]), ['2-b', '3-e9', '4-d', '5-e']);
    assert.deepEqual(sortRevs([...stem(tree, 3).keys()]), ['1-a', '2-b', '3-c', '3-e9', '4-d', '5-e']);
  });

  test('stemming is idempotent and keeps every leaf and the winner', () => {
    const tree = build(['5-e', '4-d', '3-c', '2-b', '1-a'], ['~4-e7', '3-c'], ['2-e6', '1-a']);
    for (let n = 1; n <= 6; n++) {
      const s = stem(tree, n);
      assert.deepEqual(stem(s, n), s);
      assert.deepEqual(sortRevs(leaves(s)), sortRevs(leaves(tree)));
      assert.deepEqual(winner(s), winner(tree));
      assert.deepEqual(conflicts(s), conflicts(tree));
      assert.deepEqual(deletedConflicts(s), deletedConflicts(tree));
    }
  });

  test('a merge that extends a stemmed leaf joins it', () => {
    const tree = stem(linear(), 2);
    const r = mergePath(tree, ['7-ab', '6-f', '5-e', '4-d', '3-c'], false);
    assert.deepEqual(leaves(r.tree), ['7-ab']);
    assert.deepEqual(sortRevs([...stem(r.tree, 2).keys()]), ['6-f', '7-ab']);
  });

  test('re-merging a full history after stemming brings old revs back until stemmed again', () => {
    const stemmed = stem(linear(), 2);
    const r = mergePath(stemmed, ['5-e', '4-d', '3-c', '2-b', '1-a'], false);
    assert.equal(r.added, false);
    // Union of facts: the old ids return (as CouchDB's merge does before its revs_limit stem)...
    assert.deepEqual(ancestry(r.tree, '5-e'), ['5-e', '4-d', '3-c', '2-b', '1-a']);
    // ...and stemming again gives back exactly the stemmed tree.
    assert.deepEqual(stem(r.tree, 2), stemmed);
  });

  // Known limitation, shared with CouchDB: once a document's history is stemmed, an old history
  // whose head is one of the dropped revs (here the lone root 1-a) no longer connects to anything
  // present, so merging it resurrects that rev as a separate leaf: a (non-winning) conflict. CouchDB
  // behaves the same way; replicators only send leaf histories, so this is rare in practice. The
  // assertions pin the current behaviour so that changing it is a deliberate decision.
  test('known limitation: a lone old root merged after stemming comes back as a leaf', () => {
    const stemmed = stem(linear(), 2);
    const r = mergePath(stemmed, ['1-a'], false);
    assert.equal(r.added, true);
    assert.deepEqual(sortRevs(leaves(r.tree)), ['1-a', '5-e']);
    assert.deepEqual(winner(r.tree).rev, '5-e');
    // A dropped rev that a kept node still names as parent does not become a leaf.
    const r2 = mergePath(stemmed, ['3-c', '2-b', '1-a'], false);
    assert.deepEqual(leaves(r2.tree), ['5-e']);
  });

  test('rejects a limit below 1', () => {
    for (const n of [0, -1, Number.NaN]) assert.throws(() => stem(linear(), n), isBadRequest);
  });
});

describe('revsDiff', () => {
  const tree = build(['3-c', '2-b', '1-a'], ['2-e9', '1-a'], ['~4-d', '3-e8', '2-b']);

  test('without a tree every rev is missing (deduplicated) and nothing is a possible ancestor', () => {
    assert.deepEqual(revsDiff(undefined, ['1-a', '2-b', '1-a']), { missing: ['1-a', '2-b'], possibleAncestors: [] });
  });

  test('hundreds of thousands of missing revs are answered (no argument list overflows)', () => {
    const many = Array.from({ length: 300_000 }, (_, i) => `${i + 1}-x`);
    const diff = revsDiff(tree, many);
    assert.equal(diff.missing.length, 300_000);
    assert.deepEqual(diff.possibleAncestors, ['2-e9', '3-c', '4-d']);
  });

  test('known revs, leaves or ancestors, are not missing', () => {
    assert.deepEqual(revsDiff(tree, ['1-a', '2-b', '3-c', '4-d']), { missing: [], possibleAncestors: [] });
  });

  test('possible ancestors are the leaves of lower generation than a missing rev', () => {
    // Leaves: 3-c, 2-e9, 4-d. A missing 4-e6 may descend from 3-c or 2-e9, not from 4-d.
    assert.deepEqual(revsDiff(tree, ['4-e6', '1-a']), { missing: ['4-e6'], possibleAncestors: ['2-e9', '3-c'] });
    assert.deepEqual(revsDiff(tree, ['3-e6']), { missing: ['3-e6'], possibleAncestors: ['2-e9'] });
    // Generation 2 or lower: no leaf is old enough.
    assert.deepEqual(revsDiff(tree, ['2-e6']), { missing: ['2-e6'], possibleAncestors: [] });
  });

  test('with several missing revs, a leaf qualifies if it is older than any of them', () => {
    assert.deepEqual(revsDiff(tree, ['3-e6', '5-e7', '3-e6']), {
      missing: ['3-e6', '5-e7'],
      possibleAncestors: ['2-e9', '3-c', '4-d'],
    });
  });

  test('internal revs are never offered as possible ancestors', () => {
    const r = revsDiff(tree, ['9-e7']);
    assert.ok(!r.possibleAncestors.includes('2-b'));
    assert.ok(!r.possibleAncestors.includes('1-a'));
  });
});

describe('latestLeaves', () => {
  const tree = build(['4-d', '3-c', '2-b', '1-a'], ['3-e9', '2-b'], ['2-e8', '1-a']);

  test('a leaf is its own latest', () => {
    assert.deepEqual(latestLeaves(tree, '4-d'), ['4-d']);
  });

  test('an inner rev gives every leaf descending from it', () => {
    assert.deepEqual(sortRevs(latestLeaves(tree, '2-b')), ['3-e9', '4-d']);
    assert.deepEqual(sortRevs(latestLeaves(tree, '1-a')), ['2-e8', '3-e9', '4-d']);
    assert.deepEqual(latestLeaves(tree, '3-c'), ['4-d']);
  });

  test('an unknown rev gives nothing', () => {
    assert.deepEqual(latestLeaves(tree, '9-e7'), []);
  });
});

describe('revsInfo', () => {
  test('lists the history newest first with each body status', () => {
    let tree = build(['2-b', '1-a'], ['~3-c', '2-b', '1-a']);
    tree = addRevision(tree, '4-d', '3-c', false);
    assert.deepEqual(revsInfo(tree, '4-d'), [
      { rev: '4-d', status: 'available' },
      { rev: '3-c', status: 'deleted' },
      { rev: '2-b', status: 'available' },
      { rev: '1-a', status: 'missing' },
    ]);
    const compacted = dropInternalBodies(tree).tree;
    assert.deepEqual(
      revsInfo(compacted, '4-d').map((i) => i.status),
      ['available', 'missing', 'missing', 'missing'],
    );
  });

  test('stops at a stemmed parent and is empty for an unknown rev', () => {
    const tree = stem(build(['3-c', '2-b', '1-a']), 2);
    assert.deepEqual(revsInfo(tree, '3-c').map((i) => i.rev), ['3-c', '2-b']);
    assert.deepEqual(revsInfo(tree, '1-a'), []);
  });
});

describe('dropInternalBodies', () => {
  test('drops bodies of inner revs only, keeps deleted leaves available', () => {
    let tree = build(['2-b', '1-a'], ['~2-e9', '1-a']);
    tree = addRevision(tree, '3-c', '2-b', false);
    tree = mergePath(tree, ['1-a'], false).tree; // gives 1-a a body
    assert.equal(tree.get('1-a')!.available, true);
    const { tree: out, dropped } = dropInternalBodies(tree);
    assert.deepEqual(sortRevs(dropped), ['1-a', '2-b']);
    assert.equal(out.get('1-a')!.available, false);
    assert.equal(out.get('2-b')!.available, false);
    assert.deepEqual(out.get('2-e9'), { parent: '1-a', deleted: true, available: true });
    assert.deepEqual(out.get('3-c'), { parent: '2-b', deleted: false, available: true });
    // Parents and the winner are untouched.
    assert.deepEqual(winner(out), winner(tree));
    assert.equal(out.get('2-b')!.parent, '1-a');
  });

  test('is idempotent and returns the same object when nothing is dropped', () => {
    const once = dropInternalBodies(build(['2-b', '1-a'], ['1-a'])).tree;
    const twice = dropInternalBodies(once);
    assert.deepEqual(twice.dropped, []);
    assert.equal(twice.tree, once);
  });
});

describe('encodeTreeText / decodeTreeText', () => {
  const plain = {
    '1-a': { parent: null, deleted: false, available: false },
    '2-b': { parent: '1-a', deleted: true, available: false },
    '3-c': { parent: '2-b', deleted: false, available: true },
    '4-d': { parent: '3-c', deleted: true, available: true },
    '9-e': { parent: '8-gone', deleted: false, available: true },
  };

  test('a line is one run: its generation, first parent, flags and hashes, each rev written once', () => {
    const line: RevTree = new Map(Object.entries(plain).slice(0, 4));
    assert.equal(encodeTreeText(line), '[1,null,"0123","a","b","c","d"]');
    const stemmed: RevTree = new Map([['5-e', { parent: '4-d', deleted: false, available: true }]]);
    assert.equal(encodeTreeText(stemmed), '[5,"4-d","2","e"]');
    assert.equal(encodeTreeText(new Map()), '[]');
  });

  test('round-trip every flag combination, branches and parents not held', () => {
    const tree: RevTree = new Map(Object.entries(plain));
    tree.set('3-x', { parent: '2-b', deleted: true, available: false });
    tree.set('4-y', { parent: '3-x', deleted: false, available: true });
    const text = encodeTreeText(tree);
    assert.equal(text, '[[1,null,"0123","a","b","c","d"],[9,"8-gone","2","e"],[3,"2-b","12","x","y"]]');
    assert.deepEqual([...decodeTreeText(text)], [...tree]);
    assert.deepEqual([...decodeTree(JSON.parse(text))], [...tree]);
    assert.deepEqual([...decodeTreeText(encodeTreeText(new Map()))], []);
  });

  test('records written in the flat form and in the older object form still decode', () => {
    const tree: RevTree = new Map(Object.entries(plain));
    const flat = encodeFlatText(tree);
    assert.equal(flat, '["1-a",null,0,"2-b","1-a",1,"3-c","2-b",2,"4-d","3-c",3,"9-e","8-gone",2]');
    assert.deepEqual([...decodeTreeText(flat)], [...tree]);
    assert.deepEqual([...decodeTree(JSON.parse(flat))], [...tree]);
    const old = { '1-a': [null, 0], '2-b': ['1-a', 3] } as Record<string, [string | null, number]>;
    const expected = {
      '1-a': { parent: null, deleted: false, available: false },
      '2-b': { parent: '1-a', deleted: true, available: true },
    };
    assert.deepEqual(Object.fromEntries(decodeTree(old)), expected);
    assert.deepEqual(Object.fromEntries(decodeTreeText(JSON.stringify(old))), expected);
  });

  test('a rev no run can spell back (a generation with a leading zero) keeps the flat form', () => {
    const tree: RevTree = new Map([['01-a', { parent: null, deleted: false, available: true }]]);
    assert.equal(encodeTreeText(tree), '["01-a",null,2]');
    assert.deepEqual([...decodeTreeText(encodeTreeText(tree))], [...tree]);
  });

  test('a merged, stemmed and compacted tree survives the round trip', () => {
    const tree = dropInternalBodies(stem(build(['5-e', '4-d', '3-c', '2-b', '1-a'], ['~3-e9', '2-b']), 3)).tree;
    const back = decodeTreeText(encodeTreeText(tree));
    assert.deepEqual([...back], [...tree]);
    assert.deepEqual(winner(back), winner(tree));
    assert.deepEqual(deletedConflicts(back), ['3-e9']);
  });
});
