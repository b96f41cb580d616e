// What a user (not the server admin) may do with the `_replicator` database, once its `_security`
// names them (CouchDB 3 creates it admin-only, as every database): create replication documents,
// and read, edit and delete their own (the node's rules in node/replicator-docs-rules.ts set and
// check `owner`). Listings, feeds and queries would show other users' credentials: admin-only here,
// where CouchDB shows other users' documents with their credentials stripped.

import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { UserCtx } from './auth.ts';
import type { ServerContext } from './context.ts';
import { mayUseDb } from './user-access.ts';

export const REPLICATOR_DB = '_replicator';

/** The path's segments when it is under `/_replicator`, else undefined. */
export function replicatorPath(path: string): string[] | undefined {
  let parts: string[];
  try {
    parts = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  return parts[0] === REPLICATOR_DB ? parts.slice(1).filter((p, i) => p !== '' || i > 0) : undefined;
}

/** Throws unless `user` may make this request of `_replicator` (`rest`: the path after the name). */
export async function authorizeReplicatorUse(ctx: ServerContext, user: UserCtx, method: string, rest: string[], query: Record<string, unknown>): Promise<void> {
  if (!(await mayUseDb(ctx, user, REPLICATOR_DB))) throw new RefugeError('forbidden', 'You are not allowed to access this db.');
  const onlyAdmins = () => new RefugeError('forbidden', 'Only admins list, query or follow the _replicator database; users use their own documents.');
  if (rest.length === 0) {
    if (method === 'GET' || method === 'HEAD' || method === 'POST') return;
    throw onlyAdmins();
  }
  if (rest.length !== 1) throw onlyAdmins();
  const id = rest[0]!;
  if (id === '_bulk_docs' && method === 'POST') return;
  if (id.startsWith('_')) throw onlyAdmins();
  if (method === 'PUT' || method === 'DELETE') return; // the database's rules check the owner
  if (method !== 'GET' && method !== 'HEAD') throw onlyAdmins();
  // The current revision only, of a document of theirs: another revision (an older one, a
  // deleted one's, a branch) may be someone else's, with their credentials.
  const notYours = () => new RefugeError('forbidden', 'You may read only the current revision of your own replication documents.');
  if (query.open_revs !== undefined) throw notYours();
  let doc: { _rev?: string; owner?: unknown };
  const lease = await ctx.node.lease(REPLICATOR_DB);
  try {
    doc = await lease.db.get(id);
  } catch (err) {
    // Missing and deleted alike: the id's past is not the user's to read.
    if (isRefugeError(err, 'not_found')) throw new RefugeError('not_found', 'missing');
    throw err;
  } finally {
    lease.release();
  }
  if (doc.owner !== user.name) throw notYours();
  if (query.rev !== undefined && query.rev !== doc._rev) throw notYours();
}
