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
export async function authorizeReplicatorUse(ctx: ServerContext, user: UserCtx, method: string, rest: string[]): Promise<void> {
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
  let owner: unknown;
  const lease = await ctx.node.lease(REPLICATOR_DB);
  try {
    owner = ((await lease.db.get(id)) as { owner?: unknown }).owner;
  } catch (err) {
    if (isRefugeError(err, 'not_found')) return; // the route answers 404
    throw err;
  } finally {
    lease.release();
  }
  if (owner !== user.name) throw new RefugeError('forbidden', 'You may read only your own replication documents.');
}
