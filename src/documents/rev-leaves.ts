// The leaves of a revision tree and CouchDB's order of them: the winner, conflicts, and the
// leaf-based answers (latest=true, _revs_diff's possible ancestors). Trees are rev-tree.ts's.

import { RefugeError } from '../errors/index.ts';
import { ancestry, revGeneration, type Rev, type RevTree } from './rev-tree.ts';

/** CouchDB's ordering of leaves: non-deleted first, then higher generation, then higher hash (compareSameGeneration). */
export function compareLeaves(a: { rev: Rev; deleted: boolean }, b: { rev: Rev; deleted: boolean }): number {
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  const ga = revGeneration(a.rev);
  const gb = revGeneration(b.rev);
  if (ga !== gb) return gb - ga;
  return compareSameGeneration(b.rev, a.rev);
}

const HEX32 = /^[0-9a-fA-F]{32}$/;
const CAPITAL_HEX = /[A-F]/;

/**
 * Two revisions of one generation in CouchDB's order. CouchDB keeps a 32-character hash as the 16
 * bytes its hex spells (couch_doc:parse_revid) and any other hash as its bytes, and orders leaves
 * by those binaries (couch_doc:to_doc_info_path): beside a hash of another length (Couchbase
 * Lite's 40 characters, a hand-made `2-x`) a hex one sorts by its bytes' values, not its text, and
 * the winner of such a conflict differed from CouchDB's. Hashes of one length compare as text
 * (bytes, as revs hold no surrogates), capital hex aside, which CouchDB reads as lowercase.
 */
export function compareSameGeneration(a: Rev, b: Rev): number {
  const p = a.indexOf('-') + 1;
  if (a.length === b.length && (a.length - p !== 32 || !(CAPITAL_HEX.test(a) || CAPITAL_HEX.test(b)))) {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const ha = a.slice(p);
  const hb = b.slice(b.indexOf('-') + 1);
  const c = compareBytes(hashBytes(ha), hashBytes(hb));
  // Equal as CouchDB reads them (hex differing in case): still two revisions here, in text order.
  return c !== 0 ? c : ha < hb ? -1 : ha > hb ? 1 : 0;
}

function hashBytes(hash: string): Uint8Array {
  if (!HEX32.test(hash)) return new TextEncoder().encode(hash);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hash.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The revisions of `tree` that have a child in it (its inner revisions). */
export function childSet(tree: RevTree): Set<Rev> {
  // A node is internal when some present node names it as parent.
  const parents = new Set<Rev>();
  for (const node of tree.values()) {
    const p = node.parent;
    if (p !== null && tree.has(p)) parents.add(p);
  }
  return parents;
}

/**
 * The one leaf of a tree that is a single line of revisions, else undefined: most documents' trees,
 * answered without a parent set. A line is one revision per generation over a span as long as the
 * tree, each with its parent present (one generation down) but the oldest: then no generation can
 * hold two, so no revision has two children.
 */
export function chainLeaf(tree: RevTree): Rev | undefined {
  let min = Infinity;
  let max = 0;
  let top: Rev | undefined;
  let orphans = 0;
  for (const [rev, node] of tree) {
    const gen = revGeneration(rev);
    if (gen < min) min = gen;
    if (gen > max) {
      max = gen;
      top = rev;
    }
    const parent = node.parent;
    if (parent === null || revGeneration(parent) !== gen - 1 || !tree.has(parent)) {
      if (++orphans > 1) return undefined;
    }
  }
  return max - min + 1 === tree.size ? top : undefined;
}

export function leaves(tree: RevTree): Rev[] {
  const only = chainLeaf(tree);
  if (only !== undefined) return [only];
  const internal = childSet(tree);
  const out: Rev[] = [];
  for (const rev of tree.keys()) if (!internal.has(rev)) out.push(rev);
  return out;
}

export function isLeaf(tree: RevTree, rev: Rev): boolean {
  if (!tree.has(rev)) return false;
  for (const node of tree.values()) if (node.parent === rev) return false;
  return true;
}

/** Leaves sorted best first: element 0 is the winner. */
export function sortedLeaves(tree: RevTree): Array<{ rev: Rev; deleted: boolean }> {
  return leaves(tree)
    .map((rev) => ({ rev, deleted: tree.get(rev)!.deleted }))
    .sort(compareLeaves);
}

export function winner(tree: RevTree): { rev: Rev; deleted: boolean } {
  // Written for the write path: no sorting, and no leaf set for a one-revision tree.
  if (tree.size === 0) throw new RefugeError('internal', 'empty revision tree');
  if (tree.size === 1) {
    for (const [rev, node] of tree) return { rev, deleted: node.deleted };
  }
  const only = chainLeaf(tree);
  if (only !== undefined) return { rev: only, deleted: tree.get(only)!.deleted };
  const internal = childSet(tree);
  // compareLeaves inlined, each leaf's generation read once: a document with thousands of
  // conflicts runs this for every revision written to it.
  let bestRev: Rev | undefined;
  let bestDeleted = false;
  let bestGen = 0;
  for (const [rev, node] of tree) {
    if (internal.has(rev)) continue;
    const gen = revGeneration(rev);
    const better =
      bestRev === undefined ||
      (node.deleted !== bestDeleted ? !node.deleted : gen !== bestGen ? gen > bestGen : compareSameGeneration(rev, bestRev) > 0);
    if (better) {
      bestRev = rev;
      bestDeleted = node.deleted;
      bestGen = gen;
    }
  }
  return { rev: bestRev!, deleted: bestDeleted };
}

/** Non-deleted leaves other than the winner (CouchDB's `_conflicts`). */
export function conflicts(tree: RevTree): Rev[] {
  return sortedLeaves(tree)
    .slice(1)
    .filter((l) => !l.deleted)
    .map((l) => l.rev);
}

/** Deleted leaves other than the winner (CouchDB's `_deleted_conflicts`). */
export function deletedConflicts(tree: RevTree): Rev[] {
  return sortedLeaves(tree)
    .slice(1)
    .filter((l) => l.deleted)
    .map((l) => l.rev);
}

/** Leaves that descend from `rev` (itself when it is a leaf): what CouchDB's `latest=true` returns. */
export function latestLeaves(tree: RevTree, rev: Rev): Rev[] {
  if (!tree.has(rev)) return [];
  return leaves(tree).filter((leaf) => ancestry(tree, leaf).includes(rev));
}

/**
 * CouchDB's `_revs_diff` for one document: which of `revs` the tree lacks, and for those, the
 * leaves of lower generation that may be their ancestors.
 */
export function revsDiff(tree: RevTree | undefined, revs: readonly Rev[]): { missing: Rev[]; possibleAncestors: Rev[] } {
  const missing = [...new Set(revs.filter((r) => !tree || !tree.has(r)))];
  if (!tree || missing.length === 0) return { missing, possibleAncestors: [] };
  // A loop, not Math.max(...): hundreds of thousands of revs would overflow the call's arguments.
  let maxGen = 0;
  for (const rev of missing) maxGen = Math.max(maxGen, revGeneration(rev));
  const possibleAncestors = leaves(tree)
    .filter((leaf) => revGeneration(leaf) < maxGen)
    .sort();
  return { missing, possibleAncestors };
}
