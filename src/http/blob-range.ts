// HTTP's Range and conditional headers for blob reads (RFC 9110): one `bytes=` range becomes the
// store's end-exclusive ByteRange; other units or bad syntax mean the whole blob (several ranges
// are answered in parts: byteranges.ts).

import { Readable } from 'node:stream';
import { RefugeError } from '../errors/index.ts';
import { rangeNotSatisfiable } from '../blobs/errors.ts';
import type { ByteRange } from '../blobs/index.ts';

/** What to send: the whole blob (`range` undefined) or one satisfiable range. */
export interface RangePlan {
  range?: Required<ByteRange>;
}

const ONE_RANGE = /^bytes=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i;

/**
 * Resolves a Range header against a blob of `size` bytes. Syntax errors, other units and multiple
 * ranges are ignored (RFC 9110 allows it: the client gets 200 and the whole blob); a well-formed
 * single range that selects no byte throws 416.
 */
export function planRange(header: string | undefined, size: number): RangePlan {
  if (header === undefined) return {};
  const m = ONE_RANGE.exec(header);
  if (!m) return {};
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return {};
  if (first.length > 15 || last.length > 15) {
    // Positions past 2^53 are past any blob: a suffix that long is the whole blob, a last position
    // that far runs to the end (RFC 9110), a first position that far selects nothing.
    if (first === '') return size > 0 ? { range: { start: 0, end: size } } : unsatisfiable(header, size);
    if (first.length <= 15 && Number(first) < size) return { range: { start: Number(first), end: size } };
    return unsatisfiable(header, size);
  }
  if (first === '') {
    const n = Number(last);
    if (n === 0 || size === 0) return unsatisfiable(header, size);
    return { range: { start: Math.max(0, size - n), end: size } };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return {}; // invalid: ignored, per RFC 9110 14.1.1
  if (start >= size) return unsatisfiable(header, size);
  const end = last === '' ? size : Math.min(Number(last) + 1, size);
  return { range: { start, end } };
}

/**
 * planRange as CouchDB reads Range for attachments: `bytes=0-` is the whole attachment (200, not
 * 206), and a range that ends before it starts is unsatisfiable (416) rather than ignored.
 */
export function planAttachmentRange(header: string | undefined, size: number): RangePlan {
  const m = header === undefined ? null : ONE_RANGE.exec(header);
  if (m) {
    const [, first = '', last = ''] = m;
    if (last === '' && first !== '' && Number(first) === 0) return {};
    if (first !== '' && last !== '' && Number(last) < Number(first)) unsatisfiable(header!, size);
  }
  return planRange(header, size);
}

function unsatisfiable(header: string, size: number): never {
  throw rangeNotSatisfiable(`range ${JSON.stringify(header.slice(0, 100))} selects no byte of the ${size}-byte blob`);
}

/** True when an If-None-Match header (a list of entity tags, or `*`) matches `etag`. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/** 304 Not Modified with its tag and, as CouchDB sends it, an explicit empty length. */
export function notModified<R extends { code(status: number): R; header(name: string, value: string): R; send(): R }>(reply: R, etag: string): R {
  return reply.code(304).header('ETag', etag).header('Content-Length', '0').send();
}

/**
 * A HEAD answer: the headers set, no body read. CouchDB answers HEAD as the GET it would answer
 * (chttpd aliases the method) without the body. Fastify's HEAD route drains a stream it is given
 * (every row or byte read for nothing) and says `Content-Length: 0` for no payload: an empty stream
 * keeps the headers as set.
 */
export function headersOnly<R extends { send(payload: unknown): R }>(reply: R): R {
  return reply.send(Readable.from([]));
}

/** If-Range: a range request counts only while the tag still names this blob (always, for ids). */
export function ifRangeHolds(header: string | string[] | undefined, etag: string): boolean {
  return header === undefined || (typeof header === 'string' && header.trim() === etag);
}

/** Runs `fn`; a 416 it throws carries `Content-Range: bytes * /size` as RFC 9110 asks. */
export function withUnsatisfiable<T>(reply: { header(name: string, value: string): unknown }, size: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RefugeError && err.status === 416) reply.header('Content-Range', `bytes */${size}`);
    throw err;
  }
}
