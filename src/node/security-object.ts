// CouchDB's `_security` object of a database, as a node accepts it: `admins` and `members` (and
// `readers`, CouchDB's older name for members), each with `names` and `roles` lists of strings;
// the one a database has until one is set; and what makes a database public.

import { RefugeError } from '../errors/index.ts';

/** Throws bad_request unless `sec` is a security object a node can store and apply. */
export function checkSecurityObject(sec: unknown): asserts sec is Record<string, unknown> {
  if (sec === null || typeof sec !== 'object' || Array.isArray(sec)) throw new RefugeError('bad_request', 'the security object must be a JSON object');
  // `readers` is CouchDB's older name for members, still honoured there: checked alike.
  for (const part of ['admins', 'members', 'readers']) {
    const v = (sec as Record<string, unknown>)[part];
    if (v === undefined) continue;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new RefugeError('bad_request', `${part} must be an object`);
    for (const list of ['names', 'roles']) {
      const l = (v as Record<string, unknown>)[list];
      if (l !== undefined && (!Array.isArray(l) || !l.every((x) => typeof x === 'string'))) {
        throw new RefugeError('bad_request', `${part}.${list} must be an array of strings`);
      }
    }
  }
}

/**
 * The security object of a database none was set for, as CouchDB 3 gives one (default_security =
 * admin_only): its members and admins are the server admins, so it is no one else's, and not public.
 */
export function defaultSecurity(): Record<string, unknown> {
  return { members: { roles: ['_admin'] }, admins: { roles: ['_admin'] } };
}

/**
 * CouchDB's public database (couch_db:is_public_db): its members (or, without them, readers) name
 * no one and no role, as a `_security` set to `{}` or to empty lists does. Anyone reads and writes
 * its documents, anonymous callers too; its design documents and `_security` stay its admins'.
 */
export function isPublicDb(sec: Record<string, unknown>): boolean {
  const members = (sec.members ?? sec.readers ?? {}) as { names?: unknown[]; roles?: unknown[] };
  return (members.names ?? []).length === 0 && (members.roles ?? []).length === 0;
}
