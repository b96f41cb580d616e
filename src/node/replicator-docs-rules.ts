// The `_replicator` database's own rules for callers other than the server admin (CouchDB's
// couch_replicator_docs before_doc_update and validation): a document belongs to its `owner`, set
// to the writer's name when absent, and only its owner edits or deletes it; the job it describes
// then runs as that user, with what the user may reach (jobs/replicator-docs.ts).

import { RefugeError } from '../errors/index.ts';
import type { Doc, UserCtx, WriteContext } from '../documents/index.ts';

const isAdmin = (user: UserCtx) => user.roles.includes('_admin');

const ownable = (doc: unknown): doc is Doc =>
  doc !== null && typeof doc === 'object' && !Array.isArray(doc) && !(typeof (doc as Doc)._id === 'string' && /^_(design|local)\//.test((doc as Doc)._id!));

/**
 * Names the writer as the owner of the documents they write without one. Local documents, which no
 * rule checks, are the admin's; so are replicated revisions (new_edits=false), as in `_users`: one
 * grafted on another user's old revision would take its attachments, and be the user's to read.
 */
export async function ownReplicatorDocs(docs: readonly unknown[], ctx: WriteContext): Promise<unknown[]> {
  const user = ctx.userCtx;
  if (isAdmin(user)) return [...docs];
  if (docs.some((d) => typeof (d as Doc | null)?._id === 'string' && (d as Doc)._id!.startsWith('_local/'))) {
    throw new RefugeError('forbidden', 'Only admins write local documents in _replicator.');
  }
  if (!ctx.newEdits) throw new RefugeError('forbidden', 'Only admins write replicated revisions (new_edits=false) in _replicator.');
  if (user.name === null) return [...docs];
  return docs.map((doc) => (ownable(doc) && doc._deleted !== true && !('owner' in doc) ? { ...doc, owner: user.name } : doc));
}

/** Only a document's owner (or the server admin) writes or deletes it, and only as its owner. */
export function validateReplicatorDoc(newDoc: Doc, oldDoc: Doc | null, user: UserCtx): RefugeError | undefined {
  if (isAdmin(user)) return undefined;
  const refused = new RefugeError('forbidden', "Can't update replication documents from other users.");
  if (user.name === null) return refused;
  if (oldDoc && oldDoc._deleted !== true && (oldDoc as { owner?: unknown }).owner !== user.name) return refused;
  if (newDoc._deleted !== true && (newDoc as { owner?: unknown }).owner !== user.name) return refused;
  return undefined;
}
