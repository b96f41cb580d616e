// The `_users` database keeps no password in clear: a user document written with `password` is
// stored with CouchDB's PBKDF2 fields instead (as CouchDB's before_doc_update does), so the same
// document replicated to a CouchDB lets that user log in there. Portable: WebCrypto only.

import type { Database, Doc } from '../documents/index.ts';

/** CouchDB 3.4's defaults: PBKDF2 with HMAC-SHA-256, 600,000 iterations, a 32-byte key. */
export const PBKDF2_ITERATIONS = 600_000;
/** The most iterations a login derives (a stored document may name any number): ~1 s of CPU. */
export const MAX_PBKDF2_ITERATIONS = 1_000_000;
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

/** Marks a `_users` database whose stored passwords were hashed (see hashStoredPasswords). */
const HASHED_MARK = '_local/refuge-passwords-hashed';

/**
 * Once per `_users` database: rewrites every revision that holds a clear `password` (written by a
 * version that did not hash them) through the database's own write preparation, which hashes it,
 * then compacts the revisions that held them away. Leaves are rewritten on their own branch
 * (losing conflicts too); a deleted one becomes a tombstone without a body. Documents its rules
 * refuse stay as they are. Marked done, so a database reopened later costs no second pass.
 * Answers how many revisions were rewritten.
 */
export async function hashStoredPasswords(db: Database): Promise<number> {
  if (await db.get(HASHED_MARK).then(() => true, () => false)) return 0;
  const ids = new Set<string>();
  for (const row of (await db.changes()).results) if (row.id.startsWith(USER_PREFIX)) ids.add(row.id);
  const edits: Doc[] = [];
  // A deleted leaf takes no new edit (a conflict): a child tombstone without a body is added as a
  // replicated revision instead.
  const tombstones: Doc[] = [];
  for (const id of ids) {
    for (const leaf of await db.getOpenRevs(id, 'all')) {
      if (!('ok' in leaf) || typeof leaf.ok.password !== 'string') continue;
      if (leaf.ok._deleted !== true) edits.push(leaf.ok);
      else {
        const [gen, parent] = leaf.ok._rev!.split('-') as [string, string];
        const child = hex(crypto.getRandomValues(new Uint8Array(16)));
        tombstones.push({ _id: id, _rev: `${Number(gen) + 1}-${child}`, _deleted: true, _revisions: { start: Number(gen) + 1, ids: [child, parent] } });
      }
    }
  }
  const ok = (results: ReadonlyArray<object>) => results.filter((r) => 'ok' in r).length;
  const hashed =
    (edits.length === 0 ? 0 : ok(await db.bulkDocs(edits))) + (tombstones.length === 0 ? 0 : ok(await db.bulkDocs(tombstones, { newEdits: false })));
  if (hashed > 0) await db.compact();
  await db.putLocal({ _id: HASHED_MARK, hashed });
  return hashed;
}
