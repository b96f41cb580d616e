// CouchDB's `_security` object of a database, as a node accepts it: `admins` and `members` (and
// `readers`, CouchDB's older name for members), each with `names` and `roles` lists of strings.

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
