// What a caller other than the server admin may do once an admin is configured. A user of `_users`
// reads and writes the documents of a database whose `_security` names them, or one of their roles,
// as a member or admin, and their own user document; nothing server-wide. Anyone, anonymous callers
// too, reads and writes the documents of a public database (one whose `_security` names no member).
// A database's admins also keep it: its `_security`, compaction, revs limit, purges (and design
// documents: design-docs.ts). Anyone may sign up: create a user document with no roles.

import { isDbAdmin, securityNames, type Doc } from '../documents/index.ts';
import { isPublicDb } from '../node/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { UserCtx } from './auth.ts';
import type { ServerContext } from './context.ts';
import { peerTarget } from './peer-auth.ts';
import { authorizeReplicatorUse, replicatorPath } from './replicator-access.ts';
import { USER_PREFIX, USERS_DB, type UserAccounts } from './user-accounts.ts';

/** Server paths any logged-in user may use (reads), and may POST to. */
const USER_PATHS = new Set(['/_uuids']);
const USER_POSTS = new Set(['/_replicate']);

/** Database paths (after the name) only its admins use: CouchDB's `check_is_admin` ones. */
const DB_ADMIN_PATHS = new Set(['_security', '_compact', '_view_cleanup', '_revs_limit', '_purge', '_purged_infos_limit', '_sync_shards']);

/** The database a db-admin request names (`/db/_compact[/ddoc]`, `PUT /db/_security`, ...), if it is one. */
function dbAdminTarget(method: string, path: string): string | undefined {
  if (method === 'GET' || method === 'HEAD') return undefined;
  let parts: string[];
  try {
    // Decoded as the router decodes them: `%5Fcompact` is `_compact`.
    parts = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  if (parts.length < 2 || !DB_ADMIN_PATHS.has(parts[1]!) || (parts.length > 2 && parts[1] !== '_compact') || parts.length > 3) return undefined;
  const db = parts[0]!;
  return db === '' || db.startsWith('_') ? undefined : db;
}

/** The user document a path names (`/_users/org.couchdb.user:NAME`), if it names one. */
function userDocName(path: string): string | undefined {
  const parts = path.split('/');
  if (parts.length !== 3 || parts[1] !== USERS_DB) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(parts[2]!);
  } catch {
    return undefined;
  }
  return id.startsWith(USER_PREFIX) ? id.slice(USER_PREFIX.length) : undefined;
}

/**
 * Throws unless `user` (not the server admin) may make this request: 401 for an anonymous caller,
 * 403 for a user asking beyond their databases. A database never given a `_security` is the
 * admin's alone, as CouchDB 3 creates databases; one given a `_security` naming no member is public.
 */
export async function authorizeUser(ctx: ServerContext, user: UserCtx, method: string, path: string, query: Record<string, unknown> = {}): Promise<void> {
  const own = userDocName(path);
  if (own !== undefined) {
    // One's own user document; anyone's, to sign up, logged in or not, as in CouchDB (create it:
    // the write check keeps it a new, role-less account). Not COPY: it would write another user's document.
    if ((user.name === own && ['GET', 'HEAD', 'PUT', 'DELETE'].includes(method)) || method === 'PUT') return;
  }
  if (user.name === null) {
    const target = peerTarget(method, path);
    // A public database's documents are anyone's, as in CouchDB; its administration is not.
    if (target.kind === 'db' && !target.db.startsWith('ref:') && isPublic(target.db, await ctx.node.security(target.db))) return;
    // CouchDB's words for an anonymous caller: the database's check (couch_db) or the server's.
    const onDb = target.kind === 'db' || dbAdminTarget(method, path) !== undefined;
    throw new RefugeError('unauthorized', onDb ? 'You are not authorized to access this db.' : 'You are not a server admin.');
  }
  if (USER_PATHS.has(path) && (method === 'GET' || method === 'HEAD')) return;
  if (USER_POSTS.has(path) && method === 'POST') return;
  const replicator = replicatorPath(path);
  if (replicator) return authorizeReplicatorUse(ctx, user, method, replicator, query);
  const target = peerTarget(method, path);
  if (target.kind === 'open') return;
  if (target.kind === 'db' && !target.db.startsWith('ref:')) {
    if (await mayUseDb(ctx, user, target.db)) return;
    throw new RefugeError('forbidden', 'You are not allowed to access this db.');
  }
  const adminOf = dbAdminTarget(method, path);
  if (adminOf !== undefined) {
    if (isDbAdmin(user, await ctx.node.security(adminOf))) return;
    // As CouchDB: a member is told it takes an admin (401), anyone else that the database is closed to them.
    if (await mayUseDb(ctx, user, adminOf)) throw new RefugeError('unauthorized', 'You are not a db or server admin.');
    throw new RefugeError('forbidden', 'You are not allowed to access this db.');
  }
  // Another user's account: CouchDB's _users rules refuse it (403). Anything else is the server
  // admin's, and CouchDB's verify_is_server_admin answers 401 whoever is logged in.
  if (path === `/${USERS_DB}` || path.startsWith(`/${USERS_DB}/`)) throw new RefugeError('forbidden', 'You are not a server admin.');
  throw new RefugeError('unauthorized', 'You are not a server admin.');
}

/**
 * Whether `user` reads and writes the documents of database `db`: it is public (CouchDB's
 * is_public_db: its `_security` names no member), or its `_security` names them as a member or admin.
 */
export async function mayUseDb(ctx: ServerContext, user: UserCtx, db: string): Promise<boolean> {
  const sec = await ctx.node.security(db);
  return isPublic(db, sec) || securityNames(sec.members, user) || securityNames(sec.readers, user) || isDbAdmin(user, sec);
}

/** A database anyone may use, anonymous callers too; never a system one (`_users`, `_replicator`), which keep their own rules. */
function isPublic(db: string, sec: Record<string, unknown>): boolean {
  return !db.startsWith('_') && isPublicDb(sec);
}

/**
 * For a feed a user (not an admin) or a signed peer keeps open on `db`: a check, made before each
 * batch it sends, that they still may read it — a user's account still there with the password they
 * logged in with, and the database still naming them or a role they still have; a peer's read grant.
 * A request is checked once; a feed lives on, and a revoked grant or a deleted account must end what
 * it shows. Undefined when there is nothing to check again.
 */
export async function feedAccess(ctx: ServerContext, user: UserCtx, db: string): Promise<(() => Promise<boolean>) | undefined> {
  // A signed peer: its read grant on the database, as the mesh's trust holds it now.
  if (user.name?.startsWith('peer:')) {
    const peers = ctx.peers;
    const peerId = user.name.slice('peer:'.length);
    return peers ? () => peers.may(peerId, 'read', db) : undefined;
  }
  // An anonymous caller's feed of a public database: while it stays public.
  if (ctx.auth.enabled && user.name === null && !user.roles.includes('_admin')) return async () => isPublic(db, await ctx.node.security(db));
  const accounts = ctx.auth.users;
  if (!ctx.auth.enabled || !accounts || user.name === null || user.roles.includes('_admin')) return undefined;
  const name = user.name;
  const start = await accounts.account(name);
  return async () => {
    const now = await accounts.account(name);
    return start !== undefined && now !== undefined && now.salt === start.salt && (await mayUseDb(ctx, now.ctx, db));
  };
}

/** Throws unless `user` is a server admin or an admin of database `db` (CouchDB's check_is_admin). */
export async function requireDbAdmin(ctx: ServerContext, user: UserCtx, db: string): Promise<void> {
  if (user.roles.includes('_admin')) return;
  if (user.name !== null && !user.name.startsWith('peer:') && isDbAdmin(user, await ctx.node.security(db))) return;
  throw new RefugeError('unauthorized', 'You are not a db or server admin.');
}

/**
 * A write of a user document by its user (or by someone signing up): it keeps its name, type and
 * roles (only the admin grants roles), as CouchDB's `_users` validation demands.
 */
export async function checkUserDocWrite(accounts: UserAccounts, user: UserCtx, method: string, path: string, body: unknown, newEdits = true): Promise<void> {
  const name = userDocName(path);
  if (name === undefined || method === 'GET' || method === 'HEAD') return;
  // The winner is the account. A revision planted beside it (a replicated branch) would become the
  // account once the winner goes, with the roles and password it had: only the admin writes those,
  // and edits a document that has them until they are resolved.
  if (!newEdits) throw new RefugeError('forbidden', 'Only _admin may write replicated revisions (new_edits=false) of user documents');
  const current = await accounts.userDoc(name, true);
  if (Array.isArray(current?._conflicts) && current._conflicts.length > 0) {
    throw new RefugeError('forbidden', 'This user document has conflicting revisions: only _admin may change it until they are resolved');
  }
  if (method === 'DELETE') return;
  const doc = (body ?? {}) as Doc;
  if (doc.name !== name) throw new RefugeError('forbidden', 'Document ID must be of the form org.couchdb.user:name');
  if (doc.type !== 'user') throw new RefugeError('forbidden', 'doc.type must be user');
  // Signing up makes a new account; it never rewrites one that exists (its password, say), whoever signs it up.
  if (current !== undefined && user.name !== name) throw new RefugeError('conflict', 'Document update conflict.');
  const roles = current === undefined ? [] : current.roles;
  if (JSON.stringify(doc.roles ?? []) !== JSON.stringify(roles ?? [])) throw new RefugeError('forbidden', 'Only _admin may set roles');
  // A password is given as `password` and hashed here: a user does not choose its derivation (an
  // iteration count of their own would make every wrong login against it cost what they chose).
  if (typeof doc.password !== 'string') {
    for (const field of KEY_FIELDS) {
      if (JSON.stringify(doc[field]) !== JSON.stringify(current?.[field])) throw new RefugeError('forbidden', `${field} is set by the server from password`);
    }
  }
}

/** The PBKDF2 fields the server derives from a user document's `password`. */
const KEY_FIELDS = ['password_scheme', 'pbkdf2_prf', 'iterations', 'salt', 'derived_key'] as const;
