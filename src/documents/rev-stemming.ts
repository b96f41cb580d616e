// What a revision tree drops: revisions past `revs_limit` (stemming) and, on compaction, the
// bodies of revisions that are no leaves.

import { RefugeError } from '../errors/index.ts';
import { ancestry, emptyTree, revGeneration, type Rev, type RevTree } from './rev-tree.ts';
import { chainLeaf, leaves } from './rev-leaves.ts';

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
  // A single line keeps its `limit` newest revisions: one per generation, so the generations above
  // the cut, without a set of them.
  if (chainLeaf(tree) !== undefined) {
    if (tree.size <= limit) return tree;
    const out = emptyTree();
    for (const [rev, node] of tree) if (revGeneration(rev) > deepest - limit) out.set(rev, node);
    return out;
  }
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
