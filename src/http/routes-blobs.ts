// `/_blobs`: the node's content-addressed blob store over HTTP — PUT (verified against the id), POST
// (id computed), GET/HEAD with Range (several: a multipart/byteranges answer) and ETags, DELETE,
// `_stat` of many ids, paged enumeration; the change feed and resumable uploads are in
// routes-blobs-changes.ts and routes-blobs-uploads.ts.

import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { keptBy } from '../gc/index.ts';
import { MAX_LIST_LIMIT, type BlobId } from '../blobs/index.ts';
import { BlobChangeLog } from './blob-log.ts';
import { blobHeaders, blobIdParam, checkDeclaredLength, rawBodies, sendRead, withBody } from './blob-body.ts';
import { etagMatches, ifRangeHolds, notModified, planRange, withUnsatisfiable } from './blob-range.ts';
import { byteranges, planSomeRanges, type Byteranges } from './byteranges.ts';
import { BlobUploads } from './blob-uploads.ts';
import type { ServerContext } from './context.ts';
import { int, objectBody, str, type Query } from './params.ts';
import { blobChangesRoutes } from './routes-blobs-changes.ts';
import { blobUploadRoutes } from './routes-blobs-uploads.ts';

export interface BlobRouteOptions {
  /** Largest blob accepted (413 above it); default 16 GiB. */
  blobLimit?: number;
  /** Resumable uploads expire this long after creation; default 24 h. */
  uploadTtlMs?: number;
  /** Recent changes kept for `_changes?since=`; default 10,000. */
  changeLogSize?: number;
}

/** What the blob routes share, also reachable as `ctx.extras.blobs` (tests, other subsystems). */
export interface BlobHttp {
  limit: number;
  log: BlobChangeLog;
  uploads: BlobUploads;
}

export const DEFAULT_BLOB_LIMIT = 16 * 1024 ** 3;
const MAX_STAT_IDS = 10_000;

const KEPT_REASON = {
  pin: 'it is pinned (or inside a pinned tree): unpin it first',
  ref: 'a ref names it (or a tree holding it), now or in its history',
  attachment: 'a document attachment uses it',
} as const;

type IdReq = FastifyRequest<{ Params: { id: string } }>;

/** The 206 headers of a multipart/byteranges answer, over the blob's own (its ETag, caching). */
function partsHeaders(reply: FastifyReply, id: BlobId, size: number, shared: boolean, answer: Byteranges): FastifyReply {
  return reply.code(206).headers(blobHeaders(id, size, shared)).header('Content-Type', answer.contentType).header('Content-Length', String(answer.length));
}

export function blobRoutes(app: FastifyInstance, ctx: ServerContext, options: BlobRouteOptions = {}): void {
  const store = () => ctx.node.blobs;
  const limit = options.blobLimit ?? DEFAULT_BLOB_LIMIT;

  // Many ids at once: a JSON body, so it lives in the app's JSON scope.
  app.post('/_blobs/_stat', async (req) => {
    const raw = objectBody(req.body).ids;
    if (!Array.isArray(raw)) throw new RefugeError('bad_request', '`ids` must be an array of blob ids');
    if (raw.length > MAX_STAT_IDS) throw new RefugeError('bad_request', `at most ${MAX_STAT_IDS} ids per _stat`);
    const ids = raw.map((id) => blobIdParam(id));
    const stats = await store().stat(ids);
    const results: Record<string, { size: number } | null> = {};
    raw.forEach((key: string, i) => {
      const s = stats[i];
      results[key] = s ? { size: s.size } : null;
    });
    return { results };
  });

  app.get('/_blobs', async (req) => {
    const q = req.query as Query;
    const after = str(q, 'after');
    const n = int(q, 'limit');
    if (n !== undefined && (n < 1 || n > MAX_LIST_LIMIT)) throw new RefugeError('bad_request', `limit must be from 1 to ${MAX_LIST_LIMIT}`);
    const page = await store().list({ ...(after !== undefined && { after: blobIdParam(after, 'after') }), ...(n !== undefined && { limit: n }) });
    return page.next === undefined ? { ids: page.ids } : { ids: page.ids, next: page.next };
  });

  void app.register(async (scope) => {
    const blobs: BlobHttp = {
      limit,
      log: new BlobChangeLog(store(), options.changeLogSize),
      uploads: await BlobUploads.open({
        ...(ctx.node.dataDir !== undefined && { dir: join(ctx.node.dataDir, 'uploads') }),
        ...(options.uploadTtlMs !== undefined && { ttlMs: options.uploadTtlMs }),
        maxSize: limit,
      }),
    };
    ctx.extras.blobs = blobs;
    scope.addHook('onClose', async () => {
      await blobs.log.close();
      await blobs.uploads.close();
    });
    rawBodies(scope);

    const put = async (req: IdReq, reply: FastifyReply) =>
      withBody(req, reply, async () => {
        const expectedId = blobIdParam(req.params.id);
        checkDeclaredLength(req, limit);
        const r = await store().put(req.raw, { expectedId, maxSize: limit });
        reply.code(r.created ? 201 : 200).header('ETag', `"${r.id}"`).header('Location', `/_blobs/${r.id}`);
        return { ok: true, id: r.id, size: r.size };
      });
    scope.put('/_blobs/:id', put);

    scope.post('/_blobs', async (req, reply) =>
      withBody(req, reply, async () => {
        checkDeclaredLength(req, limit);
        const r = await store().put(req.raw, { maxSize: limit });
        reply.code(r.created ? 201 : 200).header('ETag', `"${r.id}"`).header('Location', `/_blobs/${r.id}`);
        return { ok: true, id: r.id, size: r.size };
      }),
    );

    scope.get('/_blobs/:id', { exposeHeadRoute: false }, async (req: IdReq, reply) => {
      const id = blobIdParam(req.params.id);
      const etag = `"${id}"`;
      if (etagMatches(req.headers['if-none-match'], etag)) {
        if (!(await store().has(id))) throw new RefugeError('not_found', `blob ${id} not found`);
        return notModified(reply, etag);
      }
      const rangeHeader = ifRangeHolds(req.headers['if-range'], etag) ? req.headers.range : undefined;
      if (rangeHeader === undefined) return sendRead(reply, await store().get(id), !ctx.auth.enabled);
      // The size is needed to resolve the range; a 416 names it (RFC 9110: `bytes */size`).
      const [stat] = await store().stat([id]);
      if (!stat) throw new RefugeError('not_found', `blob ${id} not found`);
      // Several ranges by the rules attachments follow (byteranges.ts); a 416 names the size.
      const plan = withUnsatisfiable(reply, stat.size, () => planSomeRanges(rangeHeader, stat.size, planRange));
      if (plan.parts) {
        // Each range is opened only when its part is reached.
        const answer = byteranges(plan.parts, stat.size, 'application/octet-stream', (r) => store().get(id, r));
        return partsHeaders(reply, id, stat.size, !ctx.auth.enabled, answer).send(Readable.from(answer.body));
      }
      return sendRead(reply, await store().get(id, plan.range ?? {}), !ctx.auth.enabled);
    });

    scope.head('/_blobs/:id', async (req: IdReq, reply) => {
      const id = blobIdParam(req.params.id);
      const [stat] = await store().stat([id]);
      if (!stat) throw new RefugeError('not_found', `blob ${id} not found`);
      const etag = `"${id}"`;
      if (etagMatches(req.headers['if-none-match'], etag)) return notModified(reply, etag);
      reply.headers(blobHeaders(id, stat.size, !ctx.auth.enabled));
      const rangeHeader = ifRangeHolds(req.headers['if-range'], etag) ? req.headers.range : undefined;
      const { range, parts } = withUnsatisfiable(reply, stat.size, () => planSomeRanges(rangeHeader, stat.size, planRange));
      // The length and type the GET's parts would have (its boundary is another, of the same length);
      // nothing is read: the body is never iterated.
      if (parts) return partsHeaders(reply, id, stat.size, !ctx.auth.enabled, byteranges(parts, stat.size, 'application/octet-stream', (r) => store().get(id, r))).send();
      if (range && (range.start !== 0 || range.end !== stat.size)) {
        reply.code(206).header('Content-Length', String(range.end - range.start));
        reply.header('Content-Range', `bytes ${range.start}-${range.end - 1}/${stat.size}`);
      }
      return reply.send();
    });

    scope.delete('/_blobs/:id', async (req: IdReq) => {
      const id: BlobId = blobIdParam(req.params.id);
      // A pin says "keep this": it is lifted first, not overridden by a delete; a ref or a
      // document still using the blob would be left pointing at nothing.
      const node = ctx.node;
      const kept = await keptBy(store(), id, { pins: node.pins, refs: node.refs, extraRoots: () => node.attachmentBlobIds() });
      if (kept) throw new RefugeError('conflict', `blob ${id} is in use: ${KEPT_REASON[kept]}`);
      if (!(await store().delete(id))) throw new RefugeError('not_found', `blob ${id} not found`);
      return { ok: true, id };
    });

    blobChangesRoutes(scope, ctx, blobs);
    blobUploadRoutes(scope, ctx, blobs);
  });
}
