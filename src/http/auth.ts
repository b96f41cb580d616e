// The server admin (CouchDB's minimum): with an admin configured, Basic and cookie (`/_session`)
// authentication identify the caller, and every write or server-wide request needs the admin.
// Without one the server only ever listens on loopback (enforced at start).

import { createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { RefugeError } from '../errors/index.ts';

export interface AdminCredentials {
  name: string;
  password: string;
}

export interface UserCtx {
  name: string | null;
  roles: string[];
}

export const ANONYMOUS: UserCtx = { name: null, roles: [] };
const COOKIE = 'AuthSession';
const SESSION_SECONDS = 600;

export function parseAdmin(spec: string): AdminCredentials {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new RefugeError('bad_request', 'admin must be given as user:password');
  return { name: spec.slice(0, i), password: spec.slice(i + 1) };
}

export class Auth {
  private readonly salt = randomBytes(16);
  private readonly secret = randomBytes(32);
  private readonly hash: Buffer | null;

  constructor(readonly admin: AdminCredentials | null) {
    this.hash = admin ? this.derive(admin.password) : null;
  }

  get enabled(): boolean {
    return this.admin !== null;
  }

  private derive(password: string): Buffer {
    return pbkdf2Sync(password, this.salt, 10_000, 32, 'sha256');
  }

  /** Constant-time check, so response timing says nothing about the password. */
  checkPassword(name: string, password: string): boolean {
    if (!this.admin || !this.hash) return false;
    const okName = sameBytes(name, this.admin.name);
    const okPass = timingSafeEqual(this.derive(password), this.hash);
    return okName && okPass;
  }

  /** Who is calling, from an Authorization header or a session cookie; anonymous when neither. */
  identify(authorization: string | undefined, cookie: string | undefined): UserCtx {
    if (!this.admin) return { name: null, roles: ['_admin'] }; // admin party: loopback only
    // The scheme name is case-insensitive (RFC 9110), as CouchDB takes it.
    if (authorization !== undefined && /^basic /i.test(authorization)) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0 || !this.checkPassword(decoded.slice(0, i), decoded.slice(i + 1))) {
        throw new RefugeError('unauthorized', 'Name or password is incorrect.');
      }
      return { name: this.admin.name, roles: ['_admin'] };
    }
    const session = readCookie(cookie, COOKIE);
    if (!session) return ANONYMOUS;
    // Not even shaped like a session (name:time:mac): CouchDB refuses it rather than ignore it.
    if (Buffer.from(session, 'base64url').toString('utf8').split(':').length < 3) {
      throw new RefugeError('bad_request', 'Malformed AuthSession cookie. Please clear your cookies.');
    }
    return this.verifySession(session) ? { name: this.admin.name, roles: ['_admin'] } : ANONYMOUS;
  }

  /** A signed session cookie value: name:expiry:hmac, base64url. */
  issueSession(name: string): string {
    const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
    const payload = `${name}:${expires.toString(16)}`;
    const mac = createHmac('sha256', this.secret).update(payload).digest('base64url');
    return Buffer.from(`${payload}:${mac}`).toString('base64url');
  }

  cookieHeader(value: string, maxAge = SESSION_SECONDS): string {
    return `${COOKIE}=${value}; Version=1; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}`;
  }

  private verifySession(value: string): boolean {
    const decoded = Buffer.from(value, 'base64url').toString('utf8');
    const parts = decoded.split(':');
    if (parts.length !== 3) return false;
    const [name, expires, mac] = parts as [string, string, string];
    const expect = createHmac('sha256', this.secret).update(`${name}:${expires}`).digest('base64url');
    if (!sameBytes(mac, expect)) return false;
    return name === this.admin?.name && Number.parseInt(expires, 16) * 1000 > Date.now();
  }
}

/** Constant-time string equality; compares UTF-8 bytes (timingSafeEqual throws on unequal lengths). */
function sameBytes(a: string, b: string): boolean {
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
