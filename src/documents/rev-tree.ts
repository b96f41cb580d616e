// The revision tree of one document, as plain data and pure functions (CouchDB's key tree).
// Nodes point at their parent by rev id, even after stemming drops that parent, so merging
// histories is a union of (rev -> parent) facts and gives the same tree in any order.

import { RefugeError } from '../errors/index.ts';

export type Rev = string;

export interface RevNode {
  /** Parent rev, or null when unknown (a root, or the oldest rev of a stemmed history). */
  parent: Rev | null;
  deleted: boolean;
  /** Whether a body is stored for this revision (false once compacted or when known only by id). */
  available: boolean;
}

/**
 * rev -> node. Treat as immutable: every function returns a new tree. A Map, not an object: rev
 * ids are unique keys read from storage or the wire, and an object would internalize each one as a
 * property name (decoding, copying and growing a one-revision tree took ~3 µs, a Map ~1).
 */
export type RevTree = Map<Rev, RevNode>;

export function emptyTree(): RevTree {
  return new Map();
}

/**
 * `N-hash`: Refuge makes hex hashes, but CouchDB takes any hash (only 32-character ones are hex),
 * and PouchDB and CouchDB clients replicate such revisions. A hash may hold anything but quotes,
 * backslashes, control characters and surrogates, which keeps it safe in keys and hand-made JSON.
 */
const REV_RE = /^([1-9][0-9]{0,14})-([^"\\\u0000-\u001f\ud800-\udfff]{1,128})$/;
/**
 * The highest generation a stored revision may have: the largest with 15 digits. Generations are
 * JavaScript numbers, exact only below 2^53 (16 digits), and one past that would make an edit's
 * child no higher than its parent.
 */
export const MAX_GENERATION = 999_999_999_999_999;
const HASH_RE = /^[^"\\\u0000-\u001f\ud800-\udfff]{1,128}$/;

/** A revision's hash part as `_revisions.ids` lists it. */
export function isValidRevHash(hash: unknown): hash is string {
  return typeof hash === 'string' && HASH_RE.test(hash);
}

export function isValidRev(rev: unknown): rev is Rev {
  return typeof rev === 'string' && REV_RE.test(rev);
}

/**
 * A revision CouchDB would parse (`N-anything`) that Refuge cannot store (a quote, a control
 * character...): such a rev names nothing here, so a read of it is `missing` and an edit of it a
 * `conflict`, as in CouchDB.
 */
export function isForeignRev(rev: unknown): boolean {
  return typeof rev === 'string' && !REV_RE.test(rev) && /^[1-9][0-9]{0,15}-[^\u0000]{1,256}$/.test(rev);
}

export function revGeneration(rev: Rev): number {
  // Validated revs only (digits, then '-'): read by hand, a few times faster than parseInt, which
  // the winner and stemming ask of every revision of a tree.
  let n = 0;
  for (let i = 0; i < rev.length; i++) {
    const d = rev.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return n;
    n = n * 10 + d;
  }
  return n;
}

export function parseRev(rev: unknown): { gen: number; hash: string } {
  if (typeof rev !== 'string') throw new RefugeError('bad_request', 'Invalid rev format');
  const m = REV_RE.exec(rev);
  if (!m) throw new RefugeError('bad_request', 'Invalid rev format');
  return { gen: Number.parseInt(m[1]!, 10), hash: m[2]! };
}

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

export function leaves(tree: RevTree): Rev[] {
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

/** The history of `rev`, newest first, following parents while they are present. */
export function ancestry(tree: RevTree, rev: Rev, limit = Infinity): Rev[] {
  const out: Rev[] = [];
  let cur: Rev | null = rev;
  let node: RevNode | undefined;
  while (cur !== null && (node = tree.get(cur)) !== undefined && out.length < limit) {
    out.push(cur);
    cur = node.parent;
  }
  return out;
}

/** A local edit: `rev` becomes a child of `parent` (which must be a leaf, or null for a new root). */
export function addRevision(tree: RevTree | undefined, rev: Rev, parent: Rev | null, deleted: boolean): RevTree {
  const out: RevTree = tree === undefined ? emptyTree() : new Map(tree);
  out.set(rev, { parent, deleted, available: true });
  return out;
}

/**
 * Merges a replicated history (newest first, as CouchDB's `_revisions` gives it) into the tree.
 * The newest rev gets `deleted` and a body; older revs are known by id only unless already present.
 * Every rev of the path and every parent link it states is learnt, whether or not the newest rev
 * was already known, so merging the same histories in any order gives the same tree.
 * Returns whether the newest rev's body is new: the rev was unknown, or known only by id (as the
 * ancestor of another history, or compacted) and now arrives with its body, which the caller stores.
 * The tree can change while `added` is false (a parent link or a stemmed ancestor learnt): persist
 * whenever the returned tree is not the one passed in, and stem again to re-apply `revs_limit`.
 * Throws `bad_request` unless every rev is valid and generations fall by one along the path (a
 * malformed path could otherwise make a rev its own ancestor).
 */
export function mergePath(
  tree: RevTree,
  path: readonly Rev[],
  deleted: boolean,
): { tree: RevTree; added: boolean } {
  if (path.length === 0) return { tree, added: false };
  for (let i = 0; i < path.length; i++) {
    const rev = path[i];
    if (!isValidRev(rev) || (i > 0 && revGeneration(rev) !== revGeneration(path[i - 1]!) - 1)) {
      throw new RefugeError('bad_request', 'Invalid rev history');
    }
  }
  let out: RevTree | null = null;
  let added = false;
  for (let i = path.length - 1; i >= 0; i--) {
    const rev = path[i]!;
    const parent = i + 1 < path.length ? path[i + 1]! : null;
    const existing = (out ?? tree).get(rev);
    let node: RevNode;
    if (!existing) node = { parent, deleted: i === 0 && deleted, available: i === 0 };
    else {
      node = existing;
      if (node.parent === null && parent !== null) node = { ...node, parent };
      if (i === 0 && !node.available) node = { ...node, deleted, available: true };
      if (node === existing) continue;
    }
    if (i === 0 && !existing?.available) added = true;
    out ??= new Map(tree);
    out.set(rev, node);
  }
  return { tree: out ?? tree, added };
}

/** Whether two trees hold the same revisions with the same parents, deletions and stored bodies. */
export function sameTree(a: RevTree, b: RevTree): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [rev, x] of a) {
    const y = b.get(rev);
    if (!y || x.parent !== y.parent || x.deleted !== y.deleted || x.available !== y.available) return false;
  }
  return true;
}

/**
 * Whether `b` is `a` with nothing a reader can see changed: the same revisions, deletions and
 * bodies, and parents differing only where `a` knew none and `b` names one it does not hold (a
 * history re-sent past revs_limit: stemming drops what it taught but the parent pointer).
 */
export function sameVisibleTree(a: RevTree, b: RevTree): boolean {
  if (a.size !== b.size) return false;
  for (const [rev, x] of a) {
    const y = b.get(rev);
    if (!y || x.deleted !== y.deleted || x.available !== y.available) return false;
    if (x.parent !== y.parent && (x.parent !== null || b.has(y.parent!))) return false;
  }
  return true;
}

/**
 * Keeps only revisions within `limit` steps of a leaf (the leaf counts as one), as CouchDB's
 * `revs_limit` does. Parent pointers of kept nodes are kept even when the parent goes.
 */
export function stem(tree: RevTree, limit: number): RevTree {
  if (!(limit >= 1)) throw new RefugeError('bad_request', 'revs_limit must be a positive integer');
  // A leaf is at most its generation steps from any of its ancestors: when no revision is deeper
  // than the limit, nothing can go (the common case, checked without allocating).
  let deepest = 0;
  for (const rev of tree.keys()) deepest = Math.max(deepest, revGeneration(rev));
  if (deepest <= limit) return tree;
  const keep = new Set<Rev>();
  for (const leaf of leaves(tree)) for (const rev of ancestry(tree, leaf, limit)) keep.add(rev);
  let dropped = false;
  for (const rev of tree.keys()) if (!keep.has(rev)) dropped = true;
  if (!dropped) return tree;
  const out = emptyTree();
  for (const [rev, node] of tree) if (keep.has(rev)) out.set(rev, node);
  return out;
}

/** Compaction: only leaves keep their bodies. */
export function dropInternalBodies(tree: RevTree): { tree: RevTree; dropped: Rev[] } {
  const leafSet = new Set(leaves(tree));
  const dropped: Rev[] = [];
  const out = emptyTree();
  for (const [rev, node] of tree) {
    if (node.available && !leafSet.has(rev)) {
      dropped.push(rev);
      out.set(rev, { ...node, available: false });
    } else out.set(rev, node);
  }
  return { tree: dropped.length ? out : tree, dropped };
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

/** CouchDB's `_revs_info` for `rev`: its history with each body's status. */
export function revsInfo(tree: RevTree, rev: Rev, limit = Infinity): Array<{ rev: Rev; status: 'available' | 'deleted' | 'missing' }> {
  return ancestry(tree, rev, limit).map((r) => {
    const node = tree.get(r)!;
    return { rev: r, status: !node.available ? 'missing' : node.deleted ? 'deleted' : 'available' };
  });
}

/** Compact serialisation, as records store it: [rev, parent, flags, ...], flags bit 0 = deleted, bit 1 = available. */
export function encodeTree(tree: RevTree): Array<Rev | null | number> {
  const out: Array<Rev | null | number> = [];
  for (const [rev, n] of tree) out.push(rev, n.parent, (n.deleted ? 1 : 0) | (n.available ? 2 : 0));
  return out;
}

/**
 * Reads both stored forms: the flat array [rev, parent, flags, ...] records are written in, and
 * the rev -> [parent, flags] object of records written before it.
 */
export function decodeTree(data: Array<Rev | null | number> | Record<Rev, [Rev | null, number]>): RevTree {
  const out = emptyTree();
  if (Array.isArray(data)) {
    for (let i = 0; i + 2 < data.length; i += 3) {
      const flags = data[i + 2] as number;
      out.set(data[i] as Rev, { parent: data[i + 1] as Rev | null, deleted: (flags & 1) !== 0, available: (flags & 2) !== 0 });
    }
    return out;
  }
  for (const rev in data) {
    const [parent, flags] = data[rev]!;
    out.set(rev, { parent, deleted: (flags & 1) !== 0, available: (flags & 2) !== 0 });
  }
  return out;
}
