// `/{db}/_design/{ddoc}/_update/{name}[/{docid}]`: CouchDB's update functions, handed CouchDB's
// request object (the raw body as a string, whatever its type). Show, list and rewrite functions,
// deprecated in CouchDB 3, answer a clear 501 instead of being taken for attachment names.

import { SANDBOXED_CONTENT } from './sandboxed-content.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUuid } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { UpdateResponse } from '../design/index.ts';
import { dbOf, type ServerContext } from './context.ts';
import { dbInfoWire } from './wire.ts';

type UpdateReq = FastifyRequest<{ Params: { db: string; ddoc: string; name: string; '*'?: string } }>;

/**
 * Headers an update function may not set: the caller's cookies and session (Clear-Site-Data), the
 * sandbox its answer is served in, the node's CORS policy (a wider one would let another site read
 * the answer, which may echo the caller's credentials), and the message's own framing.
 */
const FORBIDDEN_HEADERS = new Set([
  'set-cookie',
  'clear-site-data',
  'refresh',
  'content-security-policy',
  'content-security-policy-report-only',
  'x-content-type-options',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'trailer',
  'te',
]);
const forbidden = (name: string) => FORBIDDEN_HEADERS.has(name) || name.startsWith('access-control-') || name.startsWith('proxy-');

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function send(reply: FastifyReply, response: UpdateResponse, saved: boolean): unknown {
  reply.code(response.code ?? (saved ? 201 : 200));
  let type: string;
  let body: string | Buffer;
  if (response.json !== undefined) {
    type = 'application/json';
    body = JSON.stringify(response.json);
  } else if (response.base64 !== undefined) {
    type = 'application/binary';
    body = Buffer.from(response.base64, 'base64');
  } else {
    type = 'text/html; charset=utf-8';
    body = response.body ?? '';
  }
  reply.header('Content-Type', type);
  // A function's headers, but not those that would set the caller's cookies or lift the sandbox.
  for (const [k, v] of Object.entries(response.headers ?? {})) {
    if (!forbidden(k.trim().toLowerCase())) reply.header(k, v);
  }
  reply.headers(SANDBOXED_CONTENT);
  return reply.send(body);
}

/**
 * The request's headers with their names as the client wrote them, as CouchDB hands them to an
 * update function (`req.headers["Content-Type"]`); Node's own are lower-cased. Repeats are joined.
 */
function headersAsSent(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    out[name] = Object.hasOwn(out, name) ? `${out[name]}, ${raw[i + 1]!}` : raw[i + 1]!;
  }
  return out;
}

export function updateRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const update = async (req: UpdateReq, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    const design = await ctx.node.design(req.params.db);
    const raw = req.body as Buffer | undefined;
    const body = raw === undefined ? 'undefined' : raw.toString('utf8');
    const contentType = req.headers['content-type'] ?? '';
    const path = req.url.split('?', 1)[0]!.split('/').slice(1).map(decodeURIComponent);
    const userCtx = { db: req.params.db, name: req.user.name, roles: req.user.roles };
    const outcome = await design.update({
      ddoc: req.params.ddoc,
      name: req.params.name,
      // Everything after the function's name is the id, slashes included (COUCHDB-1229).
      ...(req.params['*'] ? { docId: req.params['*'] } : {}),
      userCtx: req.user,
      req: {
        info: dbInfoWire(await db.info()),
        uuid: randomUuid(),
        method: req.method,
        requested_path: path,
        path,
        raw_path: req.url,
        query: req.query,
        headers: headersAsSent(req.raw.rawHeaders),
        body,
        peer: req.ip,
        form: contentType.startsWith('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(body)) : {},
        cookie: cookies(req.headers.cookie),
        userCtx,
        secObj: await ctx.node.security(req.params.db),
      },
    });
    if (outcome.saved) {
      reply.header('X-Couch-Id', encodeURIComponent(outcome.saved.id));
      reply.header('X-Couch-Update-NewRev', outcome.saved.rev);
    }
    return send(reply, outcome.response, outcome.saved !== undefined);
  };

  // The body is handed to the function as it came, whatever its media type.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.route({ method: ['POST', 'PUT'], url: '/:db/_design/:ddoc/_update/:name', handler: update });
    scope.route({ method: ['POST', 'PUT'], url: '/:db/_design/:ddoc/_update/:name/*', handler: update });
    // No function named (`_update` or `_update/`; the server ignores a trailing slash).
    scope.all('/:db/_design/:ddoc/_update', async () => {
      throw new RefugeError('not_found', 'Invalid path.');
    });
    const postOrPut = async () => {
      throw new RefugeError('method_not_allowed', 'Only POST,PUT allowed');
    };
    scope.route({ method: ['GET', 'HEAD', 'DELETE'], url: '/:db/_design/:ddoc/_update/:name', handler: postOrPut });
    scope.route({ method: ['GET', 'HEAD', 'DELETE'], url: '/:db/_design/:ddoc/_update/:name/*', handler: postOrPut });
    const deprecated = async () => {
      throw new RefugeError('not_implemented', 'show, list and rewrite functions (deprecated in CouchDB 3) are not supported; use views, _find or update functions');
    };
    for (const kind of ['_show', '_list', '_rewrite']) {
      scope.all(`/:db/_design/:ddoc/${kind}`, deprecated);
      scope.all(`/:db/_design/:ddoc/${kind}/*`, deprecated);
    }
  });
}
