// What automatic compaction measures (DbState.oldBodyBytes): the bytes of the bodies kept for
// revisions that are no leaves any more, which compaction drops. A body's size that is not at hand
// (kept under r!, unread) is taken as the document's current one: revisions of one document are
// alike, and the count only decides when a compaction is worth running.

import type { DbState } from './core.ts';
import type { DocRecord } from './doc-record.ts';
import { type Rev, type RevTree } from './rev-tree.ts';
import { childSet } from './rev-leaves.ts';

/**
 * The leaf of `before` that an edit adding `newRev` made an inner revision: the first revision of
 * `before` on the new branch's way to its root, if that was a leaf. At most one per edit.
 */
function leafMadeInner(before: RevTree, grown: RevTree, newRev: Rev, beforeWinner: Rev): Rev | undefined {
  let rev = grown.get(newRev)?.parent ?? null;
  while (rev !== null && !before.has(rev)) rev = grown.get(rev)?.parent ?? null;
  if (rev === null) return undefined;
  // The winner is a leaf; another revision is one when nothing in `before` names it as parent.
  return rev === beforeWinner || !childSet(before).has(rev) ? rev : undefined;
}

/** How many of `revs` were inner revisions of `tree` with their bodies kept (counted as old). */
function keptInner(tree: RevTree, revs: Iterable<Rev>): number {
  const inner = childSet(tree);
  let n = 0;
  for (const rev of revs) if (inner.has(rev) && tree.get(rev)?.available) n++;
  return n;
}

/**
 * An edit of `current` (grown to `grown`, stemmed to `tree`; `newRev` when it added one): the leaf
 * it made inner adds its kept body (the old winner's is `oldWinnerJson`), the bodies stemming
 * dropped (`stemmed`) go, but for that leaf's, never counted. `encoded` is the new record: its
 * body or the current one, the larger, stands for the sizes not at hand.
 */
export function countEdit(state: DbState, current: DocRecord, grown: RevTree, tree: RevTree, newRev: Rev | undefined, oldWinnerJson: string | undefined, stemmed: readonly Rev[] | undefined, encoded: string): void {
  const inner = newRev === undefined ? undefined : leafMadeInner(current.tree, grown, newRev, current.rev);
  countInner(state, current, inner, inner !== undefined && tree.get(inner)?.available === true, oldWinnerJson, stemmed, encoded);
}

/**
 * countEdit once the leaf the edit made inner is known (`inner`, and whether the stemmed tree
 * keeps its body): what an edit that extends a line (rev-line.ts) counts without a tree.
 */
export function countInner(state: DbState, current: DocRecord, inner: Rev | undefined, innerKept: boolean, oldWinnerJson: string | undefined, stemmed: readonly Rev[] | undefined, encoded: string): void {
  if (stemmed !== undefined) {
    let dropped = 0;
    for (const rev of stemmed) if (rev !== inner) dropped++;
    if (dropped > 0) state.oldBodyBytes = Math.max(0, state.oldBodyBytes - dropped * estimatedBody(current, encoded));
  }
  if (inner !== undefined && innerKept) {
    const added = inner === current.rev && oldWinnerJson !== undefined ? oldWinnerJson.length : estimatedBody(current, encoded);
    state.oldBodyBytes += added;
    state.oldBodyAdded += added;
  }
}

/** The larger of the new body (in `encoded`, its record) and the one it replaces: a deletion's tombstone is no measure. */
function estimatedBody(current: DocRecord, encoded: string): number {
  return Math.max(encoded.length - encoded.indexOf('\n') - 1, (current.bodyJson ?? JSON.stringify(current.body)).length);
}

/** A purge dropped the bodies of these revisions of `current`: those counted as old leave the count. */
export function countPurged(state: DbState, current: DocRecord, revs: Iterable<Rev>): void {
  const n = keptInner(current.tree, revs);
  if (n > 0) state.oldBodyBytes = Math.max(0, state.oldBodyBytes - n * (current.bodyJson ?? JSON.stringify(current.body)).length);
}
