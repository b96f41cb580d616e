// Shared plumbing of the blob routes: ids from the URL (sha256- or CID), raw request bodies streamed
// within the blob limit, and blob reads streamed out with their headers.

import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { toBlobId, type BlobId, type BlobRead } from '../blobs/index.ts';

/** A blob id from a URL or body: `sha256-<hex>` or a CID naming a SHA-256 digest. */
export function blobIdParam(raw: unknown, what = 'blob id'): BlobId {
  if (typeof raw !== 'string' || raw === '') throw new RefugeError('bad_request', `missing ${what}`);
  return toBlobId(raw);
}

/**
 * In `scope`, every request body is left unread for the handler to stream from `req.raw`
 * (no buffering, no parse); Fastify's own body limit does not apply, the handler enforces its own.
 */
export function rawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
}

/** The declared Content-Length, when there is one. */
export function declaredLength(req: FastifyRequest): number | undefined {
  const raw = req.headers['content-length'];
  return raw === undefined ? undefined : Number(raw);
}

/** Refuses a body declared larger than `limit` before a byte of it is read. */
export function checkDeclaredLength(req: FastifyRequest, limit: number, already = 0): void {
  const n = declaredLength(req);
  if (n !== undefined && n + already > limit) {
    throw new RefugeError('too_large', `the body of ${n} bytes exceeds the ${limit}-byte blob limit`);
  }
}

/**
 * Runs a handler that reads the request body; on failure before the body was read to its end the
 * connection is closed after the error, so a refused upload is not read (and dropped) to its end.
 */
export async function withBody<T>(req: FastifyRequest, reply: FastifyReply, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!req.raw.complete) reply.header('Connection', 'close');
    throw err;
  }
}

/**
 * `shared`: whether a shared cache (a proxy, a CDN) may keep the bytes. Not when the node checks
 * who asks: a response to an authenticated request kept there would be served to anyone.
 */
export function blobHeaders(id: BlobId, size: number, shared: boolean): Record<string, string> {
  return {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(size),
    ETag: `"${id}"`,
    'Accept-Ranges': 'bytes',
    // Immutable by construction: the id is the hash of the bytes.
    'Cache-Control': `${shared ? 'public' : 'private'}, max-age=31536000, immutable`,
  };
}

/**
 * Streams `read` as the response. Its bytes are checked as they go (see BlobRead.verified): should
 * they turn out corrupt after the headers left, the connection is cut, so the client sees a short
 * body rather than wrong bytes presented as whole.
 */
export function sendRead(reply: FastifyReply, read: BlobRead, shared: boolean): FastifyReply {
  const partial = read.start !== 0 || read.end !== read.size;
  reply.code(partial ? 206 : 200).headers(blobHeaders(read.id, read.size, shared));
  reply.header('Content-Length', String(read.end - read.start));
  if (partial) reply.header('Content-Range', `bytes ${read.start}-${read.end - 1}/${read.size}`);
  return reply.send(Readable.from(read, { objectMode: false, highWaterMark: 1 }));
}
