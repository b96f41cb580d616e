// CORS, as CouchDB's [cors] section gives it: off unless origins are configured; then browsers on
// those origins (a PouchDB web app served from elsewhere) may call the API, answers to errors
// included, and preflights are answered before authentication (they carry no credentials).

import type { FastifyCorsOptions } from '@fastify/cors';
import { RefugeError } from '../errors/index.ts';

export interface CorsSettings {
  /** Exact origins (`scheme://host[:port]`), or '*' for any. */
  origins: '*' | string[];
  /** Let browsers send cookies and Basic credentials (a wildcard then echoes the caller's origin). */
  credentials?: boolean;
}

// CouchDB's defaults: the methods and request headers a client of its API sends, and the answer
// headers a client reads (the new rev of a write, ETags, request ids).
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'COPY'];
const ALLOWED_HEADERS = [
  'accept', 'accept-language', 'authorization', 'cache-control', 'content-length', 'content-range', 'content-type',
  'destination', 'if-match', 'if-none-match', 'last-modified', 'origin', 'pragma', 'range', 'referer',
  'x-couch-full-commit', 'x-couch-id', 'x-couch-persist', 'x-couch-request-id', 'x-http-method-override', 'x-requested-with',
];
const EXPOSED_HEADERS = [
  'cache-control', 'content-length', 'content-range', 'content-type', 'etag', 'location', 'server',
  'x-couch-request-id', 'x-couch-update-newrev', 'x-couchdb-body-time',
];
/** Seconds a browser may reuse a preflight's answer (CouchDB's max_age). */
const MAX_AGE = 600;

/** Parses `*` or a comma-separated list of origins, refusing anything that is not an origin. */
export function parseCorsOrigins(value: string): '*' | string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new RefugeError('bad_request', 'cors: give * or a comma-separated list of origins');
  if (items.includes('*')) {
    if (items.length > 1) throw new RefugeError('bad_request', 'cors: * stands alone');
    return '*';
  }
  return items.map((item) => {
    // What a browser sends in its Origin header: a scheme and a host, no path, query or user.
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#@\s]+)\/?$/i.exec(item);
    let url: URL | undefined;
    try {
      url = m ? new URL(item) : undefined;
    } catch (err) {
      throw new RefugeError('bad_request', `cors: ${item} is not an origin (scheme://host[:port])`, { cause: err });
    }
    if (!m || !url) throw new RefugeError('bad_request', `cors: ${item} is not an origin (scheme://host[:port])`);
    // http(s) origins are normalized as browsers send them (lower case, no default port); an app
    // scheme (capacitor://localhost) has no URL origin and is kept as written, in lower case.
    return url.origin !== 'null' ? url.origin : `${m[1]!.toLowerCase()}://${m[2]!.toLowerCase()}`;
  });
}

/**
 * A browser's preflight: OPTIONS naming the page's origin and the method it means to send. Any
 * other OPTIONS is no preflight (the plugin's strict mode answered it a text/plain 400): it goes to
 * the routes, as CouchDB takes it, and gets their JSON 405 (with the CORS headers, readable).
 */
const isPreflight = (req: { method: string; headers: Record<string, string | string[] | undefined> }) =>
  req.method !== 'OPTIONS' || (req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined);

export function corsPluginOptions(settings: CorsSettings): FastifyCorsOptions {
  const credentials = settings.credentials === true;
  const options = {
    // `*` with credentials is refused by browsers: echo the caller's origin instead, as CouchDB does.
    origin: settings.origins === '*' ? (credentials ? true : '*') : settings.origins,
    credentials,
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: MAX_AGE,
    optionsSuccessStatus: 204,
  };
  const notPreflight = { ...options, preflight: false };
  return {
    hook: 'onRequest',
    delegator: (req, callback) => callback(null, isPreflight(req) ? options : notPreflight),
  };
}
