// How one incoming edit changes a document's revision tree: a local edit (new_edits=true) or a
// replicated revision history (new_edits=false). Pure: bodies and storage are the writer's job.

import { RefugeError, conflict } from '../errors/index.ts';
import type { DocRecord } from './doc-record.ts';
import { computeRev } from './rev-id.ts';
import { addRevision, emptyTree, mergePath, parseRev, type Rev, type RevTree } from './rev-tree.ts';
import { isLeaf } from './rev-leaves.ts';
import { splitDoc, type SplitDoc } from './validate.ts';

export interface EditOutcome {
  tree: RevTree;
  rev: Rev;
  /** True when a new revision joined the tree (a new sequence is due). */
  added: boolean;
}

/**
 * The revision a local edit names: its `_revisions`' newest when given (CouchDB reads the edited
 * revision from it as from `_rev`: a document read with `revs=true` and saved again carries both),
 * else its `_rev`.
 */
export function namedRev(edit: SplitDoc): Rev | undefined {
  return edit.revisions ? `${edit.revisions.start}-${edit.revisions.ids[0]}` : edit.rev;
}

/** The revision a local edit extends (a conflict when it may not extend anything). */
export function localParent(current: DocRecord | undefined, edit: SplitDoc): Rev | null {
  const named = namedRev(edit);
  if (current?.deleted) {
    // A deleted document takes only a re-creation: no rev, not itself a deletion (CouchDB 3's
    // merge_rev_tree), which extends the deleted winner's branch. Editing or deleting the
    // tombstone is a conflict there (PouchDB 9 accepts an edit naming the tombstone's rev).
    if (named !== undefined || edit.deleted) throw conflict();
    return current.rev;
  }
  if (named === undefined) {
    if (current) throw conflict();
    return null;
  }
  if (!current || !isLeaf(current.tree, named)) throw conflict();
  return named;
}

/**
 * An edit judged against the document as its request found it (`start`), for a request that
 * edited the document before: CouchDB checks every interactive edit of a request against the
 * stored document (couch_db:prep_and_validate_updates), so extending a revision an earlier edit of
 * the same request made, or re-creating a document it deleted, is a conflict there.
 */
export function checkRequestStart(start: DocRecord | undefined, edit: SplitDoc): void {
  const named = namedRev(edit);
  if (named === undefined ? start !== undefined && !start.deleted : !start?.tree.has(named)) throw conflict();
}

/**
 * `revIfNew`, when given, is this edit's rev computed as a new document's (no parent, no
 * attachments), ahead of knowing whether the document exists: used when it does not.
 */
export function applyLocalEdit(current: DocRecord | undefined, edit: SplitDoc, attDigests: readonly string[] = [], revIfNew?: Rev): EditOutcome {
  const parent = localParent(current, edit);
  const rev =
    parent === null && revIfNew !== undefined && attDigests.length === 0 ? revIfNew : computeRev(parent, edit.deleted, edit.body, attDigests);
  if (current && current.tree.has(rev)) {
    // The identical edit already exists (same parent, same body): CouchDB reports a conflict.
    throw conflict();
  }
  return { tree: addRevision(current?.tree, rev, parent, edit.deleted), rev, added: true };
}

export function applyReplicatedEdit(current: DocRecord | undefined, edit: SplitDoc): EditOutcome {
  // `_revisions`, when given, names the revision and its history; `_rev` then says nothing more
  // (CouchDB takes the history over _rev without comparing them).
  let path: Rev[];
  if (edit.revisions) {
    const { start, ids } = edit.revisions;
    path = ids.map((h, i) => `${start - i}-${h}`);
  } else {
    if (edit.rev === undefined) throw new RefugeError('bad_request', 'new_edits=false needs a _rev or _revisions on every document');
    parseRev(edit.rev);
    path = [edit.rev];
  }
  const { tree, added } = mergePath(current ? current.tree : emptyTree(), path, edit.deleted);
  return { tree, rev: path[0]!, added };
}

/** A local edit validated, and its rev computed as a new document's, before its record is read. */
export interface EarlyEdit {
  edit: SplitDoc;
  revIfNew: string;
}

/**
 * The edit of a document that names an id and no rev, for a bulk write to make while its records
 * are being read: its rev, if the document turns out to be new (it mostly does), is then known.
 * Undefined for any other document, and for one that is not valid (write reports that).
 */
export function editEarly(doc: unknown): EarlyEdit | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  if ((doc as { _rev?: unknown })._rev !== undefined || (doc as { _revisions?: unknown })._revisions !== undefined || typeof (doc as { _id?: unknown })._id !== 'string') return undefined;
  try {
    const edit = splitDoc(doc, true);
    return { edit, revIfNew: computeRev(null, edit.deleted, edit.body) };
  } catch {
    return undefined;
  }
}
