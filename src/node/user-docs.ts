// The rules every `_users` document keeps, whoever writes it (the server admin and replication
// included): CouchDB's `_design/_auth` validation. What a user may change in their own document
// (not their roles, not the derived key) is the HTTP layer's check of who is asking.

import type { Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { USER_PREFIX } from './user-passwords.ts';

const forbidden = (reason: string) => new RefugeError('forbidden', reason);

/** CouchDB's reasons, so clients that show them read the same words. */
export function validateUserDoc(newDoc: Doc, oldDoc: Doc | null): RefugeError | undefined {
  if (newDoc._deleted === true) return undefined;
  if (newDoc.type !== 'user') return forbidden('doc.type must be user');
  const name = newDoc.name;
  if (typeof name !== 'string' || name === '') return forbidden('doc.name is required');
  const roles = newDoc.roles;
  if (roles === undefined || roles === null) return forbidden('doc.roles must exist');
  if (!Array.isArray(roles)) return forbidden('doc.roles must be an array');
  if (!roles.every((r) => typeof r === 'string')) return forbidden('doc.roles can only contain strings');
  if (newDoc._id !== USER_PREFIX + name) return forbidden('Doc ID must be of the form org.couchdb.user:name');
  // A deleted account may be made again under its name; a live one keeps it.
  if (oldDoc && oldDoc._deleted !== true && oldDoc.name !== name) return forbidden('Usernames can not be changed.');
  // A string is hashed as the document is written (user-passwords.ts); any other type would be
  // stored as it came, readable by the user and no password at all.
  if (newDoc.password !== undefined && newDoc.password !== null && typeof newDoc.password !== 'string') return forbidden('doc.password must be a string');
  if (newDoc.password_sha !== undefined && newDoc.salt === undefined) {
    return forbidden('Users with password_sha must have a salt. See /_utils/script/couch.js for example code.');
  }
  if (roles.some((r) => (r as string).startsWith('_'))) return forbidden('No system roles (starting with underscore) in users db.');
  if (name.startsWith('_')) return forbidden('Username may not start with underscore.');
  if (name.includes(':')) return forbidden('Character `:` is not allowed in usernames.');
  return undefined;
}
