// The node's HTTP server: Fastify with CouchDB's routes, JSON bodies parsed without prototype
// tricks, a size limit, CouchDB-shaped errors, and the admin check before any handler runs.

import { parse as parseQuery } from 'node:querystring';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { getHeapStatistics } from 'node:v8';
import { checkLongKeys } from './long-keys.ts';
import { checkLoneSurrogates } from './lone-surrogates.ts';
import cors from '@fastify/cors';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { ADMIN_PARTY, ANONYMOUS, type UserCtx } from './auth.ts';
import { releaseLeases, type ServerContext } from './context.ts';
import { isLoopbackHostHeader } from './loopback.ts';
import { newEditsParam, type Query } from './params.ts';
import { corsPluginOptions, type CorsSettings } from './cors.ts';
import type { DbLease } from '../node/index.ts';
import { authorizeUser, checkUserDocWrite } from './user-access.ts';
import { allowedMethods, endpointMethodError, isDocPath, isFormUploadPath, isJsonPutPath, streamedJsonShape } from './db-endpoints.ts';
import { jsonRequestBody } from './json-request-body.ts';
import { StreamedJsonBody, type BodyShape } from './streamed-json.ts';
import { keepNumberTexts } from './json-number-text.ts';
import { formFromMultipart } from './multipart.ts';
import { RelatedBody } from './related-upload.ts';
import { authorizePeer, CONTENT_SHA256, digestChecked, PEER_AUTH_PREFIX } from './peer-auth.ts';
import { badContentType, clientErrorHandler, dbAwareErrorHandler, errorHandler, wsClientErrorHandler } from './errors.ts';
import { checkTransferCoding, decodedBody, decodedStream } from './content-encoding.ts';
import { pipelineInOrder } from './pipelining.ts';
import { enforceBodyRate, type BodyRateOptions } from './body-rate.ts';
import { blobRoutes, type BlobRouteOptions } from './routes-blobs.ts';
import { bulkRoutes } from './routes-bulk.ts';
import { changesRoutes } from './routes-changes.ts';
import { dbUpdatesRoutes } from './routes-db-updates.ts';
import { dbRoutes } from './routes-db.ts';
import { docRoutes } from './routes-docs.ts';
import { formUploadRoutes } from './routes-form-upload.ts';
import { designRoutes } from './routes-design.ts';
import { findRoutes } from './routes-find.ts';
import { partitionRoutes } from './routes-partition.ts';
import { gcRoutes } from './routes-gc.ts';
import { meshRoutes } from './routes-mesh.ts';
import { nodeRoutes } from './routes-node.ts';
import { refRoutes } from './routes-refs.ts';
import { replicateRoutes } from './routes-replicate.ts';
import { schedulerRoutes } from './routes-scheduler.ts';
import { serverRoutes } from './routes-server.ts';
import { DASHBOARD_PATHS, dashboardRoutes } from './routes-dashboard.ts';
import { updateRoutes } from './routes-update.ts';

declare module 'fastify' {
  interface FastifyRequest {
    user: UserCtx;
    /** The mesh peer that signed this request (`Authorization: Refuge-Peer …`), if one did. */
    peer: string | null;
    /** Databases this request holds (dbOf), released when its response ends. */
    dbLeases: DbLease[] | null;
  }
}

export interface AppOptions extends BlobRouteOptions {
  /** Largest request body accepted, in bytes (413 above it). */
  bodyLimit?: number;
  /** Largest document accepted, in bytes of its JSON without attachments (CouchDB's max_document_size). */
  maxDocumentSize?: number;
  logger?: boolean;
  /** Cross-origin access for browsers (off when absent, as CouchDB's enable_cors). */
  cors?: CorsSettings;
  /** The slowest a request body may arrive (body-rate.ts; 20 s, then 500 bytes/s on average). */
  bodyRate?: BodyRateOptions;
}

/** Paths anyone may use even when an admin is configured. */
// What anyone may ask, as CouchDB's server_authorization_check lets them (`/_uuids` too).
const OPEN = new Set(['/', '/_up', '/_uuids', '/_session', ...DASHBOARD_PATHS]);

/** The methods `X-HTTP-Method-Override` may name, as in CouchDB (CONNECT aside: never routed here). */
const OVERRIDES = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'COPY']);

/**
 * CouchDB lets clients that can only POST name the method they mean in `X-HTTP-Method-Override`;
 * it is ignored on any other method. Applied before routing, so the request is routed as that method.
 */
function methodOverride(req: { method?: string; headers: Record<string, string | string[] | undefined> }): void {
  if (req.method !== 'POST') return;
  const wanted = req.headers['x-http-method-override'];
  if (typeof wanted === 'string' && OVERRIDES.has(wanted)) req.method = wanted;
}

/**
 * The URL with each run of slashes in its path made one, as CouchDB reads paths (chttpd splits them
 * on `/` and drops empty parts): `//_cluster_setup`, which Fauxton asks for, is `/_cluster_setup`,
 * and `/db//doc` is `/db/doc`. Rewritten before routing, so every check sees the path routed.
 */
function collapseSlashes(url: string): string {
  // Every request passes here: most URLs hold no `//` at all, found in one scan.
  const double = url.indexOf('//');
  if (double < 0) return url;
  const q = url.indexOf('?');
  if (q >= 0 && q < double) return url;
  const path = q < 0 ? url : url.slice(0, q);
  return path.replace(/\/{2,}/g, '/') + (q < 0 ? '' : url.slice(q));
}

/** A client's request id when it is a plain token, else a new one: 10 hex digits, as CouchDB makes them. */
function requestId(given: string | string[] | undefined): string {
  if (typeof given === 'string' && /^[\x21-\x7e]{1,128}$/.test(given)) return given;
  return Math.floor(Math.random() * 0x10000000000).toString(16).padStart(10, '0');
}

/**
 * Largest request body accepted unless the server is told otherwise: 64 MiB, or a 32nd of the
 * heap when that is less (at least 1 MiB). A JSON body is parsed whole, and a 50 MB `_bulk_docs`
 * peaked near 750 MB: a node started with a 256 MB heap died of one (out of memory) where a 413
 * was due. From V8's own limit, so `--max-old-space-size` moves it.
 */
export const DEFAULT_BODY_LIMIT = Math.max(1024 * 1024, Math.min(64 * 1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 32)));
/** CouchDB 3's default max_document_size. */
export const DEFAULT_MAX_DOCUMENT_SIZE = 8_000_000;

export function buildApp(ctx: ServerContext, options: AppOptions = {}): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit,
    // Node answers a request without Host with a bare 400 of its own; CouchDB serves it (HTTP/1.0
    // clients and tools send none), and the checks below judge it like any request.
    http: { requireHostHeader: false },
    return503OnClosing: true,
    // Closing cuts idle keep-alive sockets at once; a request under way is answered first (index.ts
    // bounds how long that may take): cutting it lost the answer to a write that was made.
    forceCloseConnections: 'idle',
    routerOptions: {
      ignoreTrailingSlash: true,
      maxParamLength: 64 * 1024,
      // CouchDB's HTTP layer (mochiweb) separates query parameters by `;` as well as `&`.
      querystringParser: (query: string) => parseQuery(query.includes(';') ? query.replaceAll(';', '&') : query, '&', '=', { maxKeys: 0 }),
    },
    rewriteUrl: (req) => {
      methodOverride(req);
      return collapseSlashes(req.url!);
    },
    // Bad percent-encodings and the like are found by the router, before the error handler.
    frameworkErrors: errorHandler,
    clientErrorHandler,
  });
  enforceBodyRate(app.server, options.bodyRate);
  // CouchDB's COPY (copy a document) is a method Fastify does not know by default.
  app.addHttpMethod('COPY');
  // Before any other hook: a pipelined request waits for the one before it on its connection.
  pipelineInOrder(app);
  // First, so its hook runs before authentication: preflights are answered without credentials,
  // and a 401 still carries the headers that let the page read it.
  if (options.cors) void app.register(cors, corsPluginOptions(options.cors));
  // An Expect other than 100-continue: Node's own 417 has no body; CouchDB's answers carry JSON.
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({ error: 'expectation_failed', reason: `Expect: ${String(req.headers.expect)} is not supported` });
    res.writeHead(417, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  // CONNECT never reaches a route; without a listener Node drops the socket unanswered.
  app.server.on('connect', (_req, socket: Duplex) => {
    const body = JSON.stringify({ error: 'method_not_allowed', reason: 'CONNECT is not supported' });
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  });

  app.removeAllContentTypeParsers();
  // JSON.parse makes `__proto__` an ordinary own key, which is what a document store wants.
  // Bytes are decoded strictly: invalid UTF-8 is refused rather than stored as U+FFFD.
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const parseJson = (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void, shape?: BodyShape): void => {
    let bytes: Buffer;
    try {
      bytes = decodedBody(req.headers, body as Buffer, bodyLimit);
    } catch (err) {
      // Compressed within the limit, past it once decompressed: a document write streams it.
      if (shape !== undefined && isRefugeError(err, 'too_large')) return done(null, new StreamedJsonBody(decodedStream(req.headers, Readable.from([body])), shape));
      return done(err as Error, undefined);
    }
    if (bytes.length === 0) return done(null, undefined);
    try {
      const text = utf8.decode(bytes);
      checkLongKeys(text);
      const value: unknown = JSON.parse(text);
      checkLoneSurrogates(text, value);
      // Mango's counts are integers as the text writes them (2.0 is none): kept for its options.
      if (req.method === 'POST' && /\/_(?:find|explain)$/.test(req.url.split('?', 1)[0]!)) keepNumberTexts(value, text);
      done(null, value);
    } catch (err) {
      if (err instanceof RefugeError) return done(err, undefined);
      done(new RefugeError('bad_request', 'invalid UTF-8 JSON', { cause: err }), undefined);
    }
  };
  // Only application/json is JSON for a POST, as in CouchDB: text/plain, forms and multipart/form-data
  // are types a browser sends from any web page without asking (no CORS preflight), and must not
  // write documents or start replications on a node whose address it knows (CSRF).
  // A document write larger than the body limit is read by its route as it arrives instead
  // (streamed-json.ts): PouchDB sends attachments inline, as base64 in the JSON.
  app.addContentTypeParser('application/json', (req, payload, done) => {
    const shape = streamedJsonShape(req.method, req.url);
    jsonRequestBody(req.headers, payload, bodyLimit, shape).then(
      (body) => (body instanceof StreamedJsonBody ? done(null, body) : parseJson(req, body, done, shape)),
      (err: Error) => done(err, undefined),
    );
  });
  // CouchDB's replicator PUTs documents with attachments as multipart/related: left unread here, and
  // read by the document route once the request is let through, each attachment streamed into the
  // blob store as it comes (related-upload.ts), so it is not bound by the body limit.
  app.addContentTypeParser('multipart/related', (req, payload, done) => {
    if (req.method !== 'PUT' || !isDocPath(req.url)) return done(req.is404 ? null : badContentType(), undefined);
    try {
      done(null, new RelatedBody(decodedStream(req.headers, payload), req.headers['content-type']));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // CouchDB's attachment upload form, `POST /{db}/{docid}` only; being a form any page can send, its
  // route refuses it unless the Referer names this server (routes-form-upload.ts), as CouchDB does.
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit }, (req, body, done) => {
    if (req.method !== 'POST' || !isFormUploadPath(req.url)) return done(req.is404 ? null : badContentType(), undefined);
    try {
      done(null, formFromMultipart(decodedBody(req.headers, body as Buffer, bodyLimit), req.headers['content-type'], bodyLimit));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // A document or setting PUT is read as JSON whatever its type says, as CouchDB does (`curl -X PUT
  // .../db/doc -d '{...}'` sends a form type). Forms also log in (`POST /_session`); other bodies are refused.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit }, (req, body, done) => {
    if (req.method === 'PUT' && isJsonPutPath(req.url)) return parseJson(req, body, done);
    if (req.url.split('?', 1)[0] !== '/_session') return done(badContentType(), undefined);
    try {
      done(null, Object.fromEntries(new URLSearchParams(decodedBody(req.headers, body as Buffer, bodyLimit).toString('utf8'))));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (req, body, done) => {
    if (req.method === 'PUT' && isJsonPutPath(req.url)) return parseJson(req, body, done);
    // No route takes this method here: the not-found handler's 404/405 says more than a 415 would.
    if (req.is404) return done(null, undefined);
    done(badContentType(), undefined);
  });

  app.decorateRequest('user', null as unknown as UserCtx);
  app.decorateRequest('peer', null);
  app.decorateRequest('dbLeases', null);
  // Clients and tools that look for CouchDB in the Server header find the version Refuge speaks.
  const serverHeader = `CouchDB/3.3.3 (Refuge ${ctx.version})`;
  app.addHook('onRequest', async (req, reply) => {
    // CouchDB's headers on every answer: the request id (the client's own when it sends one),
    // the body time and must-revalidate (routes that cache differently set their own).
    reply.header('Server', serverHeader);
    reply.header('X-Couch-Request-ID', requestId(req.headers['x-couch-request-id']));
    reply.header('X-CouchDB-Body-Time', '0');
    reply.header('Cache-Control', 'must-revalidate');
    req.dbLeases = [];
    // 'close' comes after a response is sent and when its connection drops first (a feed).
    reply.raw.once('close', () => releaseLeases(req));
    // A refused WebSocket upgrade: its socket left Node's HTTP server, so end it after the answer.
    if (req.headers.upgrade) reply.raw.once('finish', () => req.raw.socket?.destroy());
    req.user = ANONYMOUS;
    req.peer = null;
    // The router ends a path at a raw `#`; the checks below must see the path it routes, so a URL
    // holding one (no client sends it: a fragment stays in the browser) is refused outright.
    if (req.url.includes('#')) throw new RefugeError('bad_request', 'a request URL may not hold a raw #');
    const authorization = req.headers.authorization;
    if (authorization?.startsWith(PEER_AUTH_PREFIX)) {
      // A signed peer is never an admin (not even in admin party): its grants are all it has.
      const digest = req.headers[CONTENT_SHA256];
      req.peer = await authorizePeer(ctx.peers, {
        method: req.method,
        host: req.headers.host ?? '',
        url: req.url,
        authorization,
        contentSha256: typeof digest === 'string' ? digest : undefined,
      });
      req.user = { name: `peer:${req.peer}`, roles: [] };
      return;
    }
    // Admin party (loopback only) has no one to tell apart: no turn spent on it per request. It
    // answers only requests addressed to this machine: a page on another site whose name its DNS
    // rebinds to 127.0.0.1 is same-origin with the node and would be its admin (the check CouchDB
    // needs none of: it has no admin party).
    if (!ctx.auth.enabled) {
      if (!isLoopbackHostHeader(req.headers.host)) {
        throw new RefugeError('forbidden', `this node has no admin, so it answers requests for localhost, 127.0.0.1 or [::1] only, not for ${JSON.stringify(req.headers.host)}: configure an admin (--admin user:pass) to serve other names`);
      }
      req.user = ADMIN_PARTY;
      return;
    }
    req.user = await ctx.auth.identify(authorization, req.headers.cookie, (session) => reply.header('Set-Cookie', ctx.auth.cookieHeader(session)));
    const path = req.url.split('?', 1)[0]!;
    if (!OPEN.has(path) && !req.user.roles.includes('_admin')) await authorizeUser(ctx, req.user, req.method, path, req.query as Record<string, unknown>);
  });
  // A user (or someone signing up) writing their user document keeps its name, type and roles.
  if (ctx.auth.enabled && ctx.auth.users) {
    const accounts = ctx.auth.users;
    app.addHook('preHandler', async (req) => {
      if (req.peer !== null || req.user.roles.includes('_admin') || !req.url.startsWith('/_users/')) return;
      // Read as the route reads it (a repeated parameter counts by its last value), so the two agree.
      const newEdits = newEditsParam((req.query ?? {}) as Query);
      await checkUserDocWrite(accounts, req.user, req.method, req.url.split('?', 1)[0]!, req.body, newEdits);
    });
  }

  // After authentication, as CouchDB: an anonymous caller learns nothing about a database's endpoints.
  app.addHook('onRequest', async (req) => {
    const wrongMethod = endpointMethodError(req.method, req.url);
    if (wrongMethod) throw wrongMethod;
  });
  app.addHook('onRequest', async (req, reply) => checkTransferCoding(req.headers, reply));

  // A signed peer's body must be the one it signed (its digest is part of the signature).
  app.addHook('preParsing', async (req, _reply, payload) => {
    if (req.peer === null) return payload;
    const digest = req.headers[CONTENT_SHA256];
    return digestChecked(payload, typeof digest === 'string' ? digest : undefined) as typeof payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    ctx.stats.record(req.method, reply.statusCode, reply.elapsedTime);
  });
  if (process.env.REFUGE_TRACE_HTTP) {
    app.addHook('onResponse', async (req, reply) => {
      process.stderr.write(`${req.method} ${req.url} -> ${reply.statusCode}\n`);
    });
  }
  app.setErrorHandler(dbAwareErrorHandler((name) => ctx.node.exists(name)));
  app.setNotFoundHandler(async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') throw new RefugeError('not_found', 'missing');
    throw new RefugeError('method_not_allowed', `Only ${allowedMethods(req.url)} allowed`);
  });

  // WebSocket upgrades (database and blob change feeds); onRequest (auth) runs for them like for any request.
  void app.register(websocket);
  // Its refusals before a handshake answer as every other error does (ws writes text/html otherwise).
  void app.after(() => app.websocketServer.on('wsClientError', wsClientErrorHandler));
  serverRoutes(app, ctx);
  dashboardRoutes(app);
  nodeRoutes(app, ctx);
  dbUpdatesRoutes(app, ctx);
  dbRoutes(app, ctx);
  bulkRoutes(app, ctx);
  // In a scope of its own, so its WebSocket route is declared after the plugin has loaded.
  void app.register(async (scope) => changesRoutes(scope, ctx));
  findRoutes(app, ctx);
  partitionRoutes(app, ctx);
  designRoutes(app, ctx);
  replicateRoutes(app, ctx);
  schedulerRoutes(app, ctx);
  refRoutes(app, ctx);
  gcRoutes(app, ctx);
  meshRoutes(app, ctx);
  blobRoutes(app, ctx, options);
  updateRoutes(app, ctx);
  docRoutes(app, ctx);
  formUploadRoutes(app, ctx);
  return app;
}
