// The revision tree of one document, as plain data and pure functions (CouchDB's key tree).
// Nodes point at their parent by rev id, even after stemming drops that parent, so merging
// histories is a union of (rev -> parent) facts and gives the same tree in any order.
// Its leaves and winner are rev-leaves.ts's; what stemming and compaction drop, rev-stemming.ts's;
// how records store it, rev-tree-codec.ts's.

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
 * `N-hash`: Refuge makes hex hashes, but CouchDB takes any hash, and PouchDB and CouchDB clients
 * replicate such revisions. A hash may hold anything but quotes, backslashes, control characters
 * and surrogates, which keeps it safe in keys and hand-made JSON; one of 32 characters is hex, as
 * CouchDB reads it as the 16 bytes it spells (couch_doc:parse_revid) and refuses one that is not.
 */
const HASH = String.raw`(?:[0-9a-fA-F]{32}|(?![^"\\\u0000-\u001f\ud800-\udfff]{32}$)[^"\\\u0000-\u001f\ud800-\udfff]{1,128})`;
const REV_RE = new RegExp(String.raw`^([1-9][0-9]{0,14})-(${HASH})$`);
/**
 * The highest generation a stored revision may have: the largest with 15 digits. Generations are
 * JavaScript numbers, exact only below 2^53 (16 digits), and one past that would make an edit's
 * child no higher than its parent.
 */
export const MAX_GENERATION = 999_999_999_999_999;
const HASH_RE = new RegExp(`^${HASH}$`);

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
  return typeof rev === 'string' && !REV_RE.test(rev) && /^[1-9][0-9]{0,15}-[^\u0000]{1,256}$/.test(rev) && !NOT_HEX_32.test(rev);
}

/** A hash of 32 characters that is not hex, which CouchDB refuses (400) rather than looks for. */
const NOT_HEX_32 = /^[0-9]+-(?![0-9a-fA-F]{32}$).{32}$/s;

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

/** CouchDB's `_revs_info` for `rev`: its history with each body's status. */
export function revsInfo(tree: RevTree, rev: Rev, limit = Infinity): Array<{ rev: Rev; status: 'available' | 'deleted' | 'missing' }> {
  return ancestry(tree, rev, limit).map((r) => {
    const node = tree.get(r)!;
    return { rev: r, status: !node.available ? 'missing' : node.deleted ? 'deleted' : 'available' };
  });
}
