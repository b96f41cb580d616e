// CouchDB's database-level endpoints (`/{db}/_all_docs`, `/{db}/_purge`, ...) and the methods each
// takes: another method is a 405 "Only ... allowed", as CouchDB answers, never a document operation
// on an id like `_all_docs`.

import { isSystemDbName } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';

const GET = ['GET', 'HEAD'];

const ENDPOINTS: Record<string, readonly string[]> = {
  _all_docs: [...GET, 'POST'],
  _design_docs: [...GET, 'POST'],
  _local_docs: [...GET, 'POST'],
  _changes: [...GET, 'POST'],
  _bulk_docs: ['POST'],
  _bulk_get: ['POST'],
  _revs_diff: ['POST'],
  _missing_revs: ['POST'],
  _ensure_full_commit: ['POST'],
  _find: ['POST'],
  _explain: ['POST'],
  _index: [...GET, 'POST'],
  _compact: ['POST'],
  _view_cleanup: ['POST'],
  _purge: ['POST'],
  _purged_infos: [...GET],
  _revs_limit: [...GET, 'PUT'],
  _purged_infos_limit: [...GET, 'PUT'],
  _security: [...GET, 'PUT'],
  _shards: [...GET],
  _sync_shards: ['POST'],
};

/**
 * The methods of a database endpoint, undefined for any other name: its own keys only, so that a
 * document id like `__proto__` or `__defineGetter__` is no endpoint (it was Object.prototype's, a 500).
 */
const endpointMethods = (name: string): readonly string[] | undefined => (Object.hasOwn(ENDPOINTS, name) ? ENDPOINTS[name] : undefined);

/** Endpoints whose PUT body CouchDB reads as JSON whatever its declared type, as it reads documents. */
const JSON_PUT_ENDPOINTS = new Set(['_security', '_revs_limit', '_purged_infos_limit']);

/** The segments of a request path (still percent-encoded), without the query. */
/** Whether a path's first segment is a database: `_replicator` and `_users` too, never another `_` path (`/_blobs`, `/_node`). */
const namesDb = (first: string | undefined): boolean => first !== undefined && (!first.startsWith('_') || isSystemDbName(first));

function segments(url: string): string[] {
  const path = url.split('?', 1)[0]!;
  return path.split('/').slice(1);
}

/** A 405 for `/{db}/{endpoint}` asked with a method the endpoint does not take; otherwise undefined. */
export function endpointMethodError(method: string, url: string): RefugeError | undefined {
  // Every request passes here: most name a document, which a glance at one character rules out.
  const second = url.indexOf('/', 1);
  if (second < 0 || url.charCodeAt(second + 1) !== 95 /* _ */) return undefined;
  const parts = segments(url);
  if (parts.length !== 2 || parts[0]!.startsWith('_')) return undefined;
  const allowed = endpointMethods(parts[1]!);
  if (allowed === undefined || allowed.includes(method)) return undefined;
  const named = allowed.filter((m) => m !== 'HEAD');
  return new RefugeError('method_not_allowed', `Only ${named.join(',')} allowed`);
}

/**
 * The methods a path takes, as a 405 names them when no route took the request: a database's
 * and a document's own, else reads only.
 */
export function allowedMethods(url: string): string {
  const parts = segments(url);
  const isDb = parts[0] !== '' && namesDb(parts[0]);
  if (isDb && parts.length === 1) return 'DELETE,GET,HEAD,POST,PUT';
  if (isDb && parts.length === 2 && !parts[1]!.startsWith('_')) return 'COPY,DELETE,GET,HEAD,POST,PUT';
  return 'GET,HEAD';
}

/** `/{db}/{docid}` or `/{db}/_design/{name}`: where CouchDB takes its attachment upload form. */
export function isFormUploadPath(url: string): boolean {
  const parts = segments(url);
  if (parts[0]?.startsWith('_') !== false) return false;
  if (parts.length === 2) return !parts[1]!.startsWith('_');
  return parts.length === 3 && parts[1] === '_design';
}

/**
 * Whether a PUT here carries JSON whatever its Content-Type says, as CouchDB reads it: a document
 * (`/{db}/{id}`, `/{db}/_design/{name}`, `/{db}/_local/{name}`, not one of its attachments) or a
 * database setting (`_security`, `_revs_limit`, `_purged_infos_limit`).
 */
export function isJsonPutPath(url: string): boolean {
  const parts = segments(url);
  if (parts.length === 2 && namesDb(parts[0]) && JSON_PUT_ENDPOINTS.has(parts[1]!)) return true;
  return isDocPath(url);
}

/** `/{db}/{id}`, `/{db}/_design/{name}` or `/{db}/_local/{name}`: a document, not one of its attachments. */
export function isDocPath(url: string): boolean {
  const parts = segments(url);
  const isDb = namesDb(parts[0]);
  if (parts.length === 2) return isDb && endpointMethods(parts[1]!) === undefined;
  return parts.length === 3 && isDb && (parts[1] === '_design' || parts[1] === '_local');
}

/**
 * Where a JSON body larger than the body limit is read as it arrives rather than refused
 * (streamed-json.ts): `_bulk_docs`, and a document written whole (`POST /{db}`, a PUT of a
 * document or design document; a local document has no attachments).
 */
export function streamedJsonShape(method: string, url: string): 'bulk' | 'doc' | undefined {
  if (method !== 'POST' && method !== 'PUT') return undefined;
  const parts = segments(url);
  if (!parts[0] || !namesDb(parts[0])) return undefined;
  if (method === 'POST') {
    if (parts.length === 1) return 'doc';
    return parts.length === 2 && parts[1] === '_bulk_docs' ? 'bulk' : undefined;
  }
  return isDocPath(url) && parts[1] !== '_local' ? 'doc' : undefined;
}
