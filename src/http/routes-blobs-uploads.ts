// Resumable uploads (tus-like): POST `/_blobs/_uploads` opens one, PATCH appends at `Upload-Offset`
// (409 when it is not the server's offset), HEAD/GET tell the offset to resume from, PUT `?id=` (or a
// PATCH with `Upload-Complete: ?1`) verifies the staged bytes and stores the blob, DELETE discards.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import type { PutResult } from '../blobs/index.ts';
import { blobIdParam, checkDeclaredLength, declaredLength, withBody } from './blob-body.ts';
import type { ServerContext } from './context.ts';
import { str, type Query } from './params.ts';
import type { BlobHttp } from './routes-blobs.ts';

type UploadReq = FastifyRequest<{ Params: { upload: string } }>;

function offsetHeader(req: FastifyRequest): number {
  const raw = req.headers['upload-offset'];
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new RefugeError('bad_request', 'PATCH needs an Upload-Offset header: the offset the bytes start at');
  }
  return Number(raw);
}

export function blobUploadRoutes(scope: FastifyInstance, ctx: ServerContext, { uploads, limit }: BlobHttp): void {
  const base = '/_blobs/_uploads';

  const finished = (reply: FastifyReply, r: PutResult) => {
    reply.code(r.created ? 201 : 200).header('ETag', `"${r.id}"`).header('Location', `/_blobs/${r.id}`);
    return { ok: true, id: r.id, size: r.size };
  };
  const finish = (req: UploadReq, reply: FastifyReply) => {
    const rawId = str(req.query as Query, 'id');
    const id = rawId === undefined ? undefined : blobIdParam(rawId);
    return uploads.finish(req.params.upload, ctx.node.blobs, id).then((r) => finished(reply, r));
  };

  scope.post(base, async (req, reply) =>
    withBody(req, reply, async () => {
      const info = await uploads.create();
      reply.code(201).header('Location', `${base}/${info.upload}`).header('Upload-Offset', '0');
      reply.header('Upload-Expires', new Date(info.expires).toUTCString());
      return { ok: true, upload: info.upload, offset: 0, expires: info.expires };
    }),
  );

  scope.get(`${base}/:upload`, { exposeHeadRoute: false }, async (req: UploadReq, reply) => {
    const info = await uploads.info(req.params.upload);
    reply.header('Upload-Offset', String(info.offset)).header('Cache-Control', 'no-store');
    return { upload: info.upload, offset: info.offset, expires: info.expires };
  });

  scope.head(`${base}/:upload`, async (req: UploadReq, reply) => {
    const info = await uploads.info(req.params.upload);
    reply.header('Upload-Offset', String(info.offset)).header('Cache-Control', 'no-store');
    reply.header('Upload-Expires', new Date(info.expires).toUTCString());
    return reply.code(200).send();
  });

  scope.patch(`${base}/:upload`, async (req: UploadReq, reply) =>
    withBody(req, reply, async () => {
      const offset = offsetHeader(req);
      checkDeclaredLength(req, limit, offset);
      let result;
      try {
        result = await uploads.append(req.params.upload, offset, req.raw);
      } catch (err) {
        // Where to resume from: after a conflict, and after a failed write (out of space) too.
        if (err instanceof RefugeError && (err.code === 'conflict' || err.code === 'internal')) {
          const info = await uploads.info(req.params.upload);
          reply.header('Upload-Offset', String(info.offset));
        }
        throw err;
      }
      if (result.aborted) return reply.send(); // nobody is listening
      reply.header('Upload-Offset', String(result.offset));
      if (req.headers['upload-complete'] === '?1') return finish(req, reply);
      return { ok: true, upload: req.params.upload, offset: result.offset };
    }),
  );

  scope.put(`${base}/:upload`, async (req: UploadReq, reply) =>
    withBody(req, reply, async () => {
      if ((declaredLength(req) ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) {
        throw new RefugeError('bad_request', 'finishing an upload takes no body: PATCH the bytes first');
      }
      return finish(req, reply);
    }),
  );

  scope.delete(`${base}/:upload`, async (req: UploadReq) => {
    if (!(await uploads.discard(req.params.upload))) throw new RefugeError('not_found', 'upload not found');
    return { ok: true };
  });
}
