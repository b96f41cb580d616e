// Property tests for the revision tree: replicas that receive the same histories, in any order and
// any number of times, must hold the same tree and pick the same winner (design.md, Invariants).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ancestry,
  emptyTree,
  mergePath,
  revGeneration,
} from '../../src/documents/rev-tree.ts';
import {
  compareLeaves,
  conflicts,
  deletedConflicts,
  leaves,
  revsDiff,
  sortedLeaves,
  winner,
} from '../../src/documents/rev-leaves.ts';
import { stem } from '../../src/documents/rev-stemming.ts';
import { decodeTree, decodeTreeText, encodeTreeText } from '../../src/documents/rev-tree-codec.ts';
import type { Rev, RevTree } from '../../src/documents/rev-tree.ts';

const RUNS = { numRuns: 300 };

/** The true edit history of one document: every rev with its real parent and deleted flag. */
interface Forest {
  revs: Rev[];
  parent: Map<Rev, Rev | null>;
  deleted: Map<Rev, boolean>;
}

/** A replicated history as `mergePath` receives it: newest first, possibly stemmed. */
interface History {
  path: Rev[];
  deleted: boolean;
}

/**
 * Random forests built by random edits: each step starts a new root (rarely) or edits any existing
 * rev (extending a leaf, or branching from an inner rev, as a conflicting replica would).
 * Rev ids are `${gen}-${hex}` with a random hex part (so ties in generation are broken in random
 * ways) made unique by the step number.
 */
const forestArb: fc.Arbitrary<Forest> = fc
  .array(
    fc.record({
      newRoot: fc.integer({ min: 0, max: 9 }),
      pick: fc.nat(),
      deleted: fc.integer({ min: 0, max: 4 }),
      hex: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 1, maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 24 },
  )
  .map((steps) => {
    const revs: Rev[] = [];
    const parent = new Map<Rev, Rev | null>();
    const deleted = new Map<Rev, boolean>();
    steps.forEach((s, i) => {
      const root = revs.length === 0 || s.newRoot === 0;
      const p = root ? null : revs[s.pick % revs.length]!;
      const gen = p === null ? 1 + (s.pick % 3) : revGeneration(p) + 1;
      const rev = `${gen}-${s.hex}${i.toString(16).padStart(2, '0')}`;
      revs.push(rev);
      parent.set(rev, p);
      deleted.set(rev, s.deleted === 0);
    });
    return { revs, parent, deleted };
  });

function trueAncestry(f: Forest, rev: Rev): Rev[] {
  const out: Rev[] = [];
  for (let cur: Rev | null = rev; cur !== null; cur = f.parent.get(cur)!) out.push(cur);
  return out;
}

function trueLeaves(f: Forest): Rev[] {
  const inner = new Set([...f.parent.values()].filter((p): p is Rev => p !== null));
  return f.revs.filter((r) => !inner.has(r));
}

/** Histories of random revs (leaves or inner), full to the root or stemmed to their newest k revs. */
function historiesArb(f: Forest, opts: { leavesOnly?: boolean } = {}): fc.Arbitrary<History[]> {
  const heads = opts.leavesOnly ? trueLeaves(f) : f.revs;
  return fc
    .array(fc.record({ head: fc.constantFrom(...heads), keep: fc.option(fc.integer({ min: 1, max: 6 })) }), {
      minLength: 1,
      maxLength: 12,
    })
    .map((picks) =>
      picks.map(({ head, keep }) => {
        const full = trueAncestry(f, head);
        return { path: keep === null ? full : full.slice(0, keep), deleted: f.deleted.get(head)! };
      }),
    );
}

/** Every history in a random order, some of them more than once. */
function deliveryArb(histories: History[]): fc.Arbitrary<History[]> {
  const n = histories.length;
  return fc
    .tuple(
      fc.shuffledSubarray(histories, { minLength: n, maxLength: n }),
      fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.nat()), { maxLength: n }),
    )
    .map(([perm, dups]) => {
      const out = [...perm];
      for (const [which, at] of dups) out.splice(at % (out.length + 1), 0, histories[which]!);
      return out;
    });
}

function mergeAll(histories: readonly History[], tree: RevTree = new Map()): RevTree {
  for (const h of histories) tree = mergePath(tree, h.path, h.deleted).tree;
  return tree;
}

/**
 * What the merge of a set of histories must be, computed independently: the union of their revs;
 * a parent link wherever some history states it; a body (and the real deleted flag) exactly for
 * the revs that arrived as the head of some history.
 */
function expectedTree(f: Forest, histories: readonly History[]): RevTree {
  const out = emptyTree();
  const heads = new Set(histories.map((h) => h.path[0]!));
  const linked = new Set<Rev>();
  for (const h of histories) h.path.forEach((r, i) => i + 1 < h.path.length && linked.add(r));
  for (const h of histories) {
    for (const r of h.path) {
      out.set(r, {
        parent: linked.has(r) ? f.parent.get(r)! : null,
        deleted: heads.has(r) && f.deleted.get(r)!,
        available: heads.has(r),
      });
    }
  }
  return out;
}

const sorted = (revs: Rev[]) => [...revs].sort();

function assertSameOutcome(a: RevTree, b: RevTree): void {
  assert.deepEqual(a, b);
  assert.deepEqual(winner(a), winner(b));
  assert.deepEqual(conflicts(a), conflicts(b));
  assert.deepEqual(deletedConflicts(a), deletedConflicts(b));
  assert.deepEqual(sorted(leaves(a)), sorted(leaves(b)));
}

const scenarioArb = forestArb.chain((f) =>
  historiesArb(f).chain((hs) => fc.tuple(fc.constant(f), fc.constant(hs), deliveryArb(hs), deliveryArb(hs))),
);

describe('rev tree properties', () => {
  test('merging histories gives the union of their facts, whatever the order and repetitions', () => {
    fc.assert(
      fc.property(scenarioArb, ([f, histories, order1, order2]) => {
        const expected = expectedTree(f, histories);
        const t1 = mergeAll(order1);
        const t2 = mergeAll(order2);
        assert.deepEqual(t1, expected);
        assertSameOutcome(t1, t2);
        // Merging everything again changes nothing (same object back).
        for (const h of histories) assert.equal(mergePath(t1, h.path, h.deleted).tree, t1);
      }),
      RUNS,
    );
  });

  test('the winner is the best leaf and every other leaf is a (deleted) conflict', () => {
    fc.assert(
      fc.property(scenarioArb, ([, , order]) => {
        const tree = mergeAll(order);
        const all = sortedLeaves(tree);
        assert.deepEqual(winner(tree), all[0]);
        // A non-deleted leaf, when there is one, always wins.
        if (all.some((l) => !l.deleted)) assert.equal(winner(tree).deleted, false);
        assert.deepEqual(sorted([...conflicts(tree), ...deletedConflicts(tree), winner(tree).rev]), sorted(leaves(tree)));
      }),
      RUNS,
    );
  });

  test('with every leaf history delivered in full, the replica knows the true leaves and winner', () => {
    fc.assert(
      fc.property(
        forestArb.chain((f) => {
          const full = trueLeaves(f).map((l) => ({ path: trueAncestry(f, l), deleted: f.deleted.get(l)! }));
          return fc.tuple(fc.constant(f), historiesArb(f)).chain(([f2, extra]) =>
            fc.tuple(fc.constant(f2), deliveryArb([...full, ...extra])),
          );
        }),
        ([f, order]) => {
          const tree = mergeAll(order);
          assert.deepEqual(sorted([...tree.keys()]), sorted(f.revs));
          assert.deepEqual(sorted(leaves(tree)), sorted(trueLeaves(f)));
          const best = trueLeaves(f)
            .map((rev) => ({ rev, deleted: f.deleted.get(rev)! }))
            .sort((a, b) => (a.deleted !== b.deleted ? (a.deleted ? 1 : -1) : revGeneration(b.rev) - revGeneration(a.rev) || (a.rev < b.rev ? 1 : -1)))[0];
          assert.deepEqual(winner(tree), best);
        },
      ),
      RUNS,
    );
  });

  test('stem is idempotent, keeps every leaf, the winner and the conflicts', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 6 }), ([, , order], n) => {
        const tree = mergeAll(order);
        const s = stem(tree, n);
        assert.deepEqual(stem(s, n), s);
        assert.deepEqual(sorted(leaves(s)), sorted(leaves(tree)));
        assert.deepEqual(winner(s), winner(tree));
        assert.deepEqual(conflicts(s), conflicts(tree));
        assert.deepEqual(deletedConflicts(s), deletedConflicts(tree));
        // Each leaf keeps its newest n revs (as far as the tree knew them); more only where another
        // leaf's newest n reach further up the same history.
        for (const leaf of leaves(tree)) {
          assert.deepEqual(ancestry(s, leaf, n), ancestry(tree, leaf, n));
          assert.deepEqual(ancestry(s, leaf), ancestry(tree, leaf).slice(0, ancestry(s, leaf).length));
        }
        // Stemming only removes revs; what stays is unchanged.
        for (const rev of [...s.keys()]) assert.deepEqual(s.get(rev), tree.get(rev));
        // A larger limit never keeps less.
        for (const rev of [...s.keys()]) assert.ok(stem(tree, n + 1).has(rev));
      }),
      RUNS,
    );
  });

  test('stemming once after merging in any order gives the same tree', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 6 }), ([, , order1, order2], n) => {
        assertSameOutcome(stem(mergeAll(order1), n), stem(mergeAll(order2), n));
      }),
      RUNS,
    );
  });

  // Stemming after every merge (what a database with revs_limit does) is not order independent in
  // general: a history whose head is an old inner rev, arriving after stemming dropped it and all of
  // its kept descendants' links to it, comes back as a leaf (the CouchDB-shared limitation pinned in
  // rev-tree.test.ts). When every history ends at a real leaf, as replication sends them, the
  // leaves and the winner still agree.
  test('stemming after every merge of leaf histories agrees on leaves and winner', () => {
    fc.assert(
      fc.property(
        forestArb.chain((f) => historiesArb(f, { leavesOnly: true }).chain((hs) => fc.tuple(deliveryArb(hs), deliveryArb(hs)))),
        fc.integer({ min: 1, max: 4 }),
        ([order1, order2], n) => {
          let t1: RevTree = new Map();
          for (const h of order1) t1 = stem(mergePath(t1, h.path, h.deleted).tree, n);
          const t2 = stem(mergeAll(order2), n);
          assert.deepEqual(sorted(leaves(t1)), sorted(leaves(t2)));
          assert.deepEqual(winner(t1), winner(t2));
          assert.deepEqual(conflicts(t1), conflicts(t2));
          assert.deepEqual(deletedConflicts(t1), deletedConflicts(t2));
        },
      ),
      RUNS,
    );
  });

  test('encodeTreeText / decodeTreeText round-trip, in order', () => {
    fc.assert(
      fc.property(scenarioArb, fc.option(fc.integer({ min: 1, max: 4 })), ([, , order], n) => {
        const tree = n === null ? mergeAll(order) : stem(mergeAll(order), n);
        const text = encodeTreeText(tree);
        assert.deepEqual([...decodeTreeText(text)], [...tree]);
        assert.deepEqual([...decodeTree(JSON.parse(text))], [...tree]);
      }),
      RUNS,
    );
  });

  test('revsDiff reports exactly the unknown revs, with older leaves as possible ancestors', () => {
    fc.assert(
      fc.property(
        forestArb.chain((f) =>
          fc.tuple(fc.constant(f), historiesArb(f), fc.subarray(f.revs, { minLength: 1 })),
        ),
        ([, histories, asked]) => {
          const tree = mergeAll(histories);
          const { missing, possibleAncestors } = revsDiff(tree, asked);
          assert.deepEqual(sorted(missing), sorted(asked.filter((r) => !tree.has(r))));
          if (missing.length === 0) assert.deepEqual(possibleAncestors, []);
          const maxGen = Math.max(...missing.map(revGeneration));
          assert.deepEqual(sorted(possibleAncestors), sorted(leaves(tree).filter((l) => revGeneration(l) < maxGen)));
        },
      ),
      RUNS,
    );
  });
});

// Single lines of revisions (most documents) take shortcuts in leaves, winner and stem; these
// compare them with the general answers on lines and on trees that only nearly are lines.
describe('single lines of revisions', () => {
  /** Leaves as the general rule has them: the revisions no present revision names as parent. */
  const refLeaves = (tree: RevTree): Rev[] => {
    const inner = new Set([...tree.values()].map((n) => n.parent).filter((p): p is Rev => p !== null && tree.has(p)));
    return [...tree.keys()].filter((r) => !inner.has(r));
  };
  const refStem = (tree: RevTree, limit: number): RevTree => {
    const keep = new Set(refLeaves(tree).flatMap((leaf) => ancestry(tree, leaf, limit)));
    return new Map([...tree].filter(([rev]) => keep.has(rev)));
  };

  /** A line from generation `from` up, then one of the changes that make it nearly, or not, a line. */
  const nearLineArb = fc
    .record({
      from: fc.integer({ min: 1, max: 40 }),
      length: fc.integer({ min: 1, max: 30 }),
      rootKnown: fc.boolean(),
      change: fc.constantFrom('none', 'branch', 'second-root', 'gap', 'skip-generation', 'skip-link', 'twin-top'),
      at: fc.nat(),
      deleted: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    })
    .map(({ from, length, rootKnown, change, at, deleted }) => {
      const tree = emptyTree();
      const revs: Rev[] = [];
      for (let i = 0; i < length; i++) {
        const rev = `${from + i}-${(i * 7919).toString(16).padStart(4, '0')}`;
        tree.set(rev, { parent: i > 0 ? revs[i - 1]! : rootKnown || from === 1 ? null : `${from - 1}-gone`, deleted: deleted[i]!, available: true });
        revs.push(rev);
      }
      const pick = revs[at % length]!;
      const gen = revGeneration(pick);
      if (change === 'branch') tree.set(`${gen + 1}-b${at}`, { parent: pick, deleted: deleted[39]!, available: true });
      if (change === 'second-root') tree.set(`${from + length}-r${at}`, { parent: null, deleted: false, available: true });
      if (change === 'gap' && length > 2) tree.delete(revs[1 + (at % (length - 2))]!);
      // Parent links a generation off (only corrupt data could hold them): no line, whatever the counts say.
      if (change === 'skip-generation') tree.set(`${from + length + 1}-s`, { parent: revs[length - 1]!, deleted: false, available: true });
      if (change === 'skip-link' && length > 2) tree.set(revs[length - 1]!, { ...tree.get(revs[length - 1]!)!, parent: revs[length - 3]! });
      if (change === 'twin-top') tree.set(`${from + length - 1}-t${at}`, { parent: length > 1 ? revs[length - 2]! : null, deleted: false, available: true });
      return tree;
    });

  test('leaves, winner and stem agree with the general rule', () => {
    fc.assert(
      fc.property(nearLineArb, fc.integer({ min: 1, max: 35 }), (tree, limit) => {
        assert.deepEqual(sorted(leaves(tree)), sorted(refLeaves(tree)));
        const best = refLeaves(tree)
          .map((rev) => ({ rev, deleted: tree.get(rev)!.deleted }))
          .sort(compareLeaves)[0];
        assert.deepEqual(winner(tree), best);
        const s = stem(tree, limit);
        assert.deepEqual(s, refStem(tree, limit));
        // Nothing dropped: the very tree, which callers take as "not stemmed".
        if (s.size === tree.size) assert.equal(s, tree);
      }),
      { numRuns: 2000 },
    );
  });
});
