// Turns a CouchDB replication endpoint — a local database name, a URL, or {url, headers, auth} — into
// a replication peer on this node.

import type { UserCtx } from '../documents/index.ts';
import { RefugeError, isRefugeError, toRefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/index.ts';
import { HttpPeer, LocalPeer, checkPeerUrl, checkRequestHeaders, filterSource, isRetryable, urlCredential, type ReplicationPeer } from '../replication/index.ts';

/** CouchDB's endpoint forms: a local name or URL, or `{url, headers, auth: {basic: {username, password}}}`. */
export type Endpoint = string | { url: string; headers?: Record<string, string>; auth?: { basic: { username: string; password: string } } };

/**
 * A URL endpoint that no client could reach (`http://[::1`), or whose credentials no client could
 * decode (unless `auth` replaces them), is refused at once, not retried for good.
 */
function checkUrl(url: string, name: string, ownCredentials = true): void {
  if (!/^https?:\/\//i.test(url)) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new RefugeError('bad_request', `${name} is not a valid URL: ${describeEndpoint(url)}`, { cause: err });
  }
  try {
    checkPeerUrl(parsed);
  } catch (err) {
    throw new RefugeError('bad_request', `${name}: ${toRefugeError(err).reason}: ${describeEndpoint(url)}`, { cause: err });
  }
  if (!ownCredentials) return;
  try {
    urlCredential(parsed.username, 'user name');
    urlCredential(parsed.password, 'password');
  } catch (err) {
    throw new RefugeError('bad_request', `${name}: ${toRefugeError(err).reason}: ${describeEndpoint(url)}`, { cause: err });
  }
}

export function checkEndpoint(value: unknown, name: string): Endpoint {
  if (typeof value === 'string' && value.length > 0) {
    checkUrl(value, name);
    return value;
  }
  if (value && typeof value === 'object' && typeof (value as { url?: unknown }).url === 'string') {
    checkUrl((value as { url: string }).url, `${name}.url`, (value as { auth?: unknown }).auth === undefined);
    const headers = (value as { headers?: unknown }).headers;
    if (headers !== undefined) {
      if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) throw new RefugeError('bad_request', `${name}.headers must be an object of strings`);
      checkRequestHeaders(headers as Record<string, unknown>, `${name}.headers`);
    }
    const auth = (value as { auth?: unknown }).auth;
    if (auth !== undefined) {
      const basic = (auth as { basic?: { username?: unknown; password?: unknown } } | null)?.basic;
      if (!basic || typeof basic.username !== 'string' || typeof basic.password !== 'string') {
        throw new RefugeError('bad_request', `${name}.auth must be {basic: {username, password}} of strings`);
      }
    }
    return value as Endpoint;
  }
  throw new RefugeError('bad_request', `${name} must be a database name, a URL or {url, headers, auth}`);
}

export function describeEndpoint(e: Endpoint): string {
  const url = typeof e === 'string' ? e : e.url;
  // Never show credentials in task lists or logs. Everything up to the authority's last `@` goes,
  // as URL parsers read it: a password may hold a raw `@` of its own.
  return url.replace(/^([^:/?#]+:\/\/)[^/?#]*@/, '$1');
}

/**
 * The peer an endpoint names: a remote database over HTTP, or one of the node's own, held (leased)
 * until `release()` so that a finished replication does not keep it open for good. A missing one of
 * the node's is made when `create` says so, once `beforeCreate` passed.
 */
export async function endpointPeer(
  node: RefugeNode,
  e: Endpoint,
  create: boolean,
  timeoutMs?: number,
  asUser?: (db: string) => Promise<UserCtx>,
  beforeCreate?: () => Promise<void>,
): Promise<{ peer: ReplicationPeer; release(): void }> {
  const url = typeof e === 'string' ? e : e.url;
  if (/^https?:\/\//i.test(url)) {
    const options = {
      ...(timeoutMs !== undefined && { timeoutMs }),
      ...(typeof e !== 'string' && e.headers && { headers: e.headers }),
      ...(typeof e !== 'string' && e.auth && { auth: e.auth.basic }),
    };
    return { peer: new HttpPeer(url, options), release: () => {} };
  }
  if (create && !(await node.exists(url))) {
    await beforeCreate?.();
    await node.createDb(url, { hold: false });
  }
  const lease = await node.lease(url);
  return { peer: new LocalPeer(lease.db, asUser ? { asUser: () => asUser(url) } : {}), release: () => lease.release() };
}

/**
 * What must hold of the source before create_target makes a database here: it exists and has the
 * filter asked, as the replication's start checks them (session-start.ts) before it makes a remote
 * target. A source that does not answer yet is the replication's to retry: the target is made.
 */
export async function sourceReady(source: ReplicationPeer, filter?: { name: string; queryParams?: Record<string, unknown> }): Promise<void> {
  try {
    await source.info();
  } catch (err) {
    if (isRetryable(err)) return;
    throw isRefugeError(err, 'not_found') ? new RefugeError('not_found', 'the source database does not exist', { cause: err }) : err;
  }
  if (filter === undefined) return;
  try {
    await filterSource(source, filter.name, filter.queryParams);
  } catch (err) {
    if (!isRetryable(err)) throw err;
  }
}
