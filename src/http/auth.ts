// Who calls: with an admin configured, Basic and cookie (`/_session`) authentication identify the
// server admin or a user of `_users` (user-accounts.ts); what a user may then do is user-access.ts's.
// Without an admin the server only ever listens on loopback (enforced at start), all admin party.

import { createHmac, hkdfSync, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { RefugeError } from '../errors/index.ts';
import type { UserAccounts } from './user-accounts.ts';

export interface AdminCredentials {
  name: string;
  password: string;
}

export interface UserCtx {
  name: string | null;
  roles: string[];
}

export const ANONYMOUS: UserCtx = { name: null, roles: [] };
/** Everyone, when no admin is configured (the server then listens on loopback only). */
export const ADMIN_PARTY: UserCtx = Object.freeze({ name: null, roles: Object.freeze(['_admin']) as string[] });
/** The session cookie's SameSite attribute (CouchDB's [chttpd_auth] same_site). */
export type CookieSameSite = 'lax' | 'strict' | 'none';
const COOKIE = 'AuthSession';
const SESSION_SECONDS = 600;
const ADMIN_ITERATIONS = 10_000;
const pbkdf2Async = promisify(pbkdf2);

export function parseAdmin(spec: string): AdminCredentials {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new RefugeError('bad_request', 'admin must be given as user:password');
  return { name: spec.slice(0, i), password: spec.slice(i + 1) };
}

export class Auth {
  private readonly salt = randomBytes(16);
  /** Signs session cookies (see the constructor). */
  private readonly secret: Buffer;
  /** Ties the admin's sessions to their password, as a user's salt ties theirs. */
  private readonly adminSalt: string;
  private readonly hash: Buffer | null;
  /** Keys the MAC by which the admin password, once verified, is known again. */
  private readonly macKey = randomBytes(32);
  /** The MAC of the admin password once a login has verified it, as user-accounts.ts remembers users'. */
  private verified: Buffer | null = null;

  /**
   * `nodeSecret` (the node's own key, kept in its data directory) makes the cookie secret, so a
   * session outlives a restart of the node, as CouchDB's (it keeps its secret in its config); a
   * node without one signs with a secret of this server's only. The admin's sessions end when the
   * admin's password changes.
   */
  constructor(
    readonly admin: AdminCredentials | null,
    readonly users?: UserAccounts,
    nodeSecret?: Uint8Array,
    private readonly sameSite: CookieSameSite = 'lax',
  ) {
    this.secret = nodeSecret ? Buffer.from(hkdfSync('sha256', nodeSecret, new Uint8Array(0), 'refuge session cookie', 32)) : randomBytes(32);
    this.adminSalt = admin ? createHmac('sha256', this.secret).update(`admin\u0000${admin.name}\u0000${admin.password}`).digest('base64url') : '';
    this.hash = admin ? pbkdf2Sync(admin.password, this.salt, ADMIN_ITERATIONS, 32, 'sha256') : null;
  }

  get enabled(): boolean {
    return this.admin !== null;
  }

  private passwordMac(password: string): Buffer {
    return createHmac('sha256', this.macKey).update(password).digest();
  }

  /**
   * Constant-time check of the admin's password, so response timing says nothing about it. Basic
   * auth sends it with every request: once verified it is checked by its MAC (microseconds), where
   * a derivation takes milliseconds of CPU (a client logged in as the admin got ~470 requests/s).
   * Any other password is derived in full, as CouchDB checks every login its cache does not know,
   * on the thread pool so the requests of others go on meanwhile.
   */
  private async isAdminPassword(name: string, password: string): Promise<boolean> {
    if (!this.admin || !this.hash) return false;
    const okName = sameBytes(name, this.admin.name);
    const mac = this.passwordMac(password);
    if (this.verified !== null && timingSafeEqual(mac, this.verified)) return okName;
    const okPass = timingSafeEqual(await pbkdf2Async(password, this.salt, ADMIN_ITERATIONS, 32, 'sha256'), this.hash);
    if (okPass) this.verified = mac;
    return okName && okPass;
  }

  /** The caller these credentials name: the admin, a user of `_users`, or undefined when wrong. */
  async login(name: string, password: string): Promise<UserCtx | undefined> {
    if (!this.admin) return undefined;
    if (name === this.admin.name) return (await this.isAdminPassword(name, password)) ? { name, roles: ['_admin'] } : undefined;
    return (await this.users?.login(name, password)) ?? undefined;
  }

  /**
   * Who is calling, from an Authorization header or a session cookie; anonymous when neither. A
   * session past half its life is renewed through `renew` (a new cookie value), as CouchDB renews
   * one in use: an active client is not logged out mid-work.
   */
  async identify(authorization: string | undefined, cookie: string | undefined, renew?: (session: string) => void): Promise<UserCtx> {
    if (!this.admin) return ADMIN_PARTY; // loopback only
    // CouchDB's handlers in their order: a session cookie that names someone, then Basic auth.
    const bySession = await this.sessionUser(cookie, renew);
    if (bySession.name !== null) return bySession;
    // The scheme name is case-insensitive (RFC 9110), as CouchDB takes it.
    if (authorization !== undefined && /^basic /i.test(authorization)) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      // No colon, or `_:_` (Futon's way to log out): no credentials, as CouchDB's basic_name_pw reads them.
      if (i < 0 || decoded === '_:_') return ANONYMOUS;
      const user = await this.login(decoded.slice(0, i), decoded.slice(i + 1));
      if (!user) throw new RefugeError('unauthorized', 'Name or password is incorrect.');
      return user;
    }
    return ANONYMOUS;
  }

  /** Who a session cookie names, if it is a live one issued here; anonymous otherwise. */
  private async sessionUser(cookie: string | undefined, renew?: (session: string) => void): Promise<UserCtx> {
    if (!this.admin) return ANONYMOUS;
    const session = readCookie(cookie, COOKIE);
    if (!session) return ANONYMOUS;
    // Not even shaped like a session (name:time:mac): CouchDB refuses it rather than ignore it.
    if (Buffer.from(session, 'base64url').toString('utf8').split(':').length < 3) {
      throw new RefugeError('bad_request', 'Malformed AuthSession cookie. Please clear your cookies.');
    }
    const parts = this.sessionParts(session);
    if (parts === undefined) return ANONYMOUS;
    const { name } = parts;
    let user: UserCtx | undefined;
    if (name === this.admin.name) user = this.verifySession(parts, this.adminSalt) ? { name, roles: ['_admin'] } : undefined;
    else {
      // A user's session holds while their password does (the salt changes with it, as in CouchDB),
      // with their roles as their document says now; a user deleted since is logged out.
      const account = await this.users?.account(name);
      user = account && this.verifySession(parts, account.salt) ? account.ctx : undefined;
    }
    if (user === undefined) return ANONYMOUS;
    if (renew && Number.parseInt(parts.expires, 16) * 1000 - Date.now() < (SESSION_SECONDS * 1000) / 2) renew(await this.issueSession(name));
    return user;
  }

  /** A signed session cookie value: name:expiry:hmac, base64url; `salt` ties it to the password. */
  async issueSession(name: string): Promise<string> {
    const salt = name === this.admin?.name ? this.adminSalt : ((await this.users?.account(name))?.salt ?? '');
    const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
    const payload = `${name}:${expires.toString(16)}`;
    return Buffer.from(`${payload}:${this.sessionMac(payload, salt)}`).toString('base64url');
  }

  private sessionMac(payload: string, salt: string): string {
    return createHmac('sha256', this.secret).update(`${payload}\u0000${salt}`).digest('base64url');
  }

  /**
   * `Expires` as well as `Max-Age`, as CouchDB sends them (mochiweb_cookies): cookie jars that read
   * only `Expires`, as nano's does, otherwise hold the cookie as already expired and never send it.
   */
  cookieHeader(value: string, maxAge = SESSION_SECONDS): string {
    const expires = new Date(Date.now() + maxAge * 1000).toUTCString();
    // Browsers refuse SameSite=None without Secure (and take Secure over http on localhost only).
    const site = this.sameSite === 'none' ? 'SameSite=None; Secure' : this.sameSite === 'strict' ? 'SameSite=Strict' : 'SameSite=Lax';
    return `${COOKIE}=${value}; Version=1; Expires=${expires}; Max-Age=${maxAge}; Path=/; HttpOnly; ${site}`;
  }

  /** A session cookie's parts (names may hold colons: the expiry and the MAC are the last two). */
  private sessionParts(value: string): { name: string; expires: string; mac: string } | undefined {
    const parts = Buffer.from(value, 'base64url').toString('utf8').split(':');
    if (parts.length < 3) return undefined;
    const mac = parts.pop()!;
    const expires = parts.pop()!;
    return { name: parts.join(':'), expires, mac };
  }

  /** Whether a session was issued here, for this salt, and has not expired. */
  private verifySession(s: { name: string; expires: string; mac: string }, salt: string): boolean {
    if (!sameBytes(s.mac, this.sessionMac(`${s.name}:${s.expires}`, salt))) return false;
    return Number.parseInt(s.expires, 16) * 1000 > Date.now();
  }
}

/** Constant-time string equality; compares UTF-8 bytes (timingSafeEqual throws on unequal lengths). */
export function sameBytes(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

export function requireAdmin(user: UserCtx): void {
  if (!user.roles.includes('_admin')) {
    throw new RefugeError('unauthorized', 'You are not a server admin.');
  }
}
