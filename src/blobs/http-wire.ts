// The HTTP blob client's wire pieces: credentials from the URL, the error an answer stands for, and
// blob bytes as request and response streams (portable: fetch and web streams only).

import { RefugeError, isErrorCode } from '../errors/index.ts';
import { sourceChunks, unshared } from './chunks.ts';
import type { BlobSource } from './types.ts';

export function basicAuth(user: string, pass: string): string {
  const raw = new TextEncoder().encode(`${decodeURIComponent(user)}:${decodeURIComponent(pass)}`);
  let bin = '';
  for (const b of raw) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

/** The RefugeError a non-2xx answer stands for (CouchDB's `{error, reason}` body when there is one). */
export async function errorOf(res: Response, what: string): Promise<RefugeError> {
  let body: { error?: unknown; reason?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // not JSON
  }
  const reason = typeof body.reason === 'string' ? body.reason : `${what}: HTTP ${res.status}`;
  if (isErrorCode(body.error)) return new RefugeError(body.error, reason, { status: res.status });
  if (res.status === 404) return new RefugeError('not_found', reason);
  if (res.status >= 500) return new RefugeError('unavailable', reason, { status: res.status });
  return new RefugeError('bad_request', reason, { status: res.status });
}

export const unreachable = (what: string, err: unknown) =>
  err instanceof RefugeError || (err as { name?: string })?.name === 'AbortError' ? err : new RefugeError('unavailable', `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });

/**
 * A put's request body from a non-buffer source. The source's failure, or going past `maxSize`, ends
 * the stream with that error and is handed to `fail` first, so the caller reports it rather than the
 * network error it causes.
 */
export function uploadStream(source: Exclude<BlobSource, Uint8Array>, maxSize: number | undefined, fail: (err: unknown) => void): ReadableStream<Uint8Array> {
  const it = sourceChunks(source)[Symbol.asyncIterator]();
  let size = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await it.next();
        if (r.done) {
          controller.close();
          return;
        }
        size += r.value.length;
        if (maxSize !== undefined && size > maxSize) throw new RefugeError('too_large', `the blob exceeds ${maxSize} bytes`);
        if (r.value.length > 0) controller.enqueue(unshared(r.value));
      } catch (err) {
        fail(err);
        controller.error(err);
      }
    },
    async cancel() {
      await it.return?.(undefined);
    },
  });
}

/** A response body's chunks; a broken connection is `unavailable`, and the body is released at the end. */
export async function* responseChunks(body: ReadableStream<Uint8Array> | null, id: string): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (err) {
        throw unreachable(`reading blob ${id}`, err);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}
