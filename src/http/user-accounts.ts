// The node's user accounts: CouchDB's `_users` documents (`org.couchdb.user:NAME`, roles, PBKDF2
// fields), checked for Basic and cookie logins beside the server admin. A password is derived once
// per document revision: later requests with it are checked against an HMAC kept in memory.

import { createHmac, randomBytes } from 'node:crypto';
import type { Doc } from '../documents/index.ts';
import { isRefugeError } from '../errors/index.ts';
import { derivedKey, MAX_PBKDF2_ITERATIONS, USER_PREFIX, type RefugeNode } from '../node/index.ts';
import { sameBytes } from './auth.ts';

export { USER_PREFIX };
export const USERS_DB = '_users';
/** Logins remembered (name -> the revision and password last checked): a bound on memory. */
const REMEMBERED = 1000;

export interface AccountCtx {
  name: string;
  roles: string[];
}

export class UserAccounts {
  private readonly secret = randomBytes(32);
  private readonly remembered = new Map<string, { rev: string; mac: string }>();

  constructor(private readonly node: RefugeNode) {}

  /**
   * A user's document (the winning revision; with `_conflicts` when asked), or undefined (no
   * `_users` database, no such user, a deleted one).
   */
  async userDoc(name: string, conflicts = false): Promise<Doc | undefined> {
    if (!(await this.node.exists(USERS_DB))) return undefined;
    const lease = await this.node.lease(USERS_DB);
    try {
      return await lease.db.get(USER_PREFIX + name, conflicts ? { conflicts: true } : {});
    } catch (err) {
      if (isRefugeError(err, 'not_found')) return undefined;
      throw err;
    } finally {
      lease.release();
    }
  }

  /** The user's context if this is their password; undefined otherwise. */
  async login(name: string, password: string): Promise<AccountCtx | undefined> {
    const doc = await this.userDoc(name);
    if (!doc) return undefined;
    const mac = createHmac('sha256', this.secret).update(password).digest('base64');
    const known = this.remembered.get(name);
    if (known && known.rev === doc._rev) return sameBytes(known.mac, mac) ? contextOf(name, doc) : undefined;
    if (!(await passwordMatches(doc, password))) return undefined;
    this.remembered.delete(name);
    this.remembered.set(name, { rev: doc._rev!, mac });
    if (this.remembered.size > REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
    return contextOf(name, doc);
  }

  /**
   * A user's context now (their roles may have changed since) and their password's salt, which
   * sessions are bound to; undefined when the account is gone.
   */
  async account(name: string): Promise<{ ctx: AccountCtx; salt: string } | undefined> {
    const doc = await this.userDoc(name);
    return doc ? { ctx: contextOf(name, doc), salt: typeof doc.salt === 'string' ? doc.salt : '' } : undefined;
  }
}

function contextOf(name: string, doc: Doc): AccountCtx {
  const roles = Array.isArray(doc.roles) ? doc.roles.filter((r): r is string => typeof r === 'string' && !r.startsWith('_')) : [];
  return { name, roles };
}

/** Checks a password against a user document's PBKDF2 fields, as CouchDB derives them. */
async function passwordMatches(doc: Doc, password: string): Promise<boolean> {
  if (doc.password_scheme !== 'pbkdf2' || typeof doc.salt !== 'string' || typeof doc.derived_key !== 'string') return false;
  const iterations = doc.iterations;
  // Past MAX_ITERATIONS a check would hold a thread for seconds: such a document logs nobody in.
  if (typeof iterations !== 'number' || !Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) return false;
  const key = await derivedKey(password, doc.salt, iterations, typeof doc.pbkdf2_prf === 'string' ? doc.pbkdf2_prf : 'sha');
  return key !== undefined && sameBytes(key, doc.derived_key.toLowerCase());
}
