// The `_users` database keeps no password in clear: a user document written with `password` is
// stored with CouchDB's PBKDF2 fields instead (as CouchDB's before_doc_update does), so the same
// document replicated to a CouchDB lets that user log in there. Portable: WebCrypto only.

import type { Database, Doc } from '../documents/index.ts';

/** CouchDB 3.4's defaults: PBKDF2 with HMAC-SHA-256, 600,000 iterations, a 32-byte key. */
export const PBKDF2_ITERATIONS = 600_000;
export const USER_PREFIX = 'org.couchdb.user:';
/** CouchDB's names for `pbkdf2_prf` (`sha`, its SHA-1, was the default before 3.4) and each key's size. */
const PRF: Record<string, { hash: string; bits: number }> = { sha: { hash: 'SHA-1', bits: 160 }, sha256: { hash: 'SHA-256', bits: 256 } };

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * The key CouchDB derives from a password, in hex: the salt is used as the text it is (hex digits),
 * not decoded, as couch_passwords does. Undefined for a `prf` CouchDB does not name.
 */
export async function derivedKey(password: string, salt: string, iterations: number, prf = 'sha256'): Promise<string | undefined> {
  const p = Object.hasOwn(PRF, prf) ? PRF[prf]! : undefined;
  if (!p) return undefined;
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', enc.encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: p.hash, salt: enc.encode(salt), iterations }, key, p.bits);
  return hex(new Uint8Array(bits));
}

/** A user document with its clear `password` replaced by the derived key; any other document as it is. */
export async function withHashedPassword(doc: unknown, iterations = PBKDF2_ITERATIONS): Promise<unknown> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return doc;
  const { password, ...rest } = doc as Doc;
  if (typeof password !== 'string' || typeof rest._id !== 'string' || !rest._id.startsWith(USER_PREFIX)) return doc;
  const salt = hex(crypto.getRandomValues(new Uint8Array(16)));
  return {
    ...rest,
    password_scheme: 'pbkdf2',
    pbkdf2_prf: 'sha256',
    iterations,
    salt,
    derived_key: (await derivedKey(password, salt, iterations))!,
  };
}

/** The `_users` database's write preparation: every user document's password hashed. */
export function hashUserPasswords(iterations = PBKDF2_ITERATIONS): (docs: readonly unknown[]) => Promise<unknown[]> {
  return (docs) => Promise.all(docs.map((d) => withHashedPassword(d, iterations)));
}

/**
 * Rewrites the user documents of `db` that hold a clear `password` (written by a version that did
 * not hash them), through the database's own write preparation, which hashes it. Documents its
 * rules refuse stay as they are. Answers how many were rewritten.
 */
export async function hashStoredPasswords(db: Database): Promise<number> {
  const rows = (await db.allDocs({ startkey: USER_PREFIX, endkey: `${USER_PREFIX}\uffff`, includeDocs: true })).rows;
  const clear = rows.map((r) => r.doc).filter((d): d is Doc => d != null && typeof (d as Doc).password === 'string');
  if (clear.length === 0) return 0;
  const written = await db.bulkDocs(clear);
  const hashed = written.filter((r) => 'ok' in r).length;
  // The revisions that held them keep their bodies until a compaction: done now.
  if (hashed > 0) await db.compact();
  return hashed;
}
