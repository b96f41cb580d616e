// Request bodies sent compressed (`Content-Encoding: gzip`, as CouchDB's replicator and curl
// --compressed may send them) are read decompressed, never past the body limit (no zip bombs);
// an encoding Refuge cannot read is CouchDB's 415, never stored as if it were the bytes meant.
// Transfer codings are framing: chunked only, which Node undoes; any other is refused.

import { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { RefugeError } from '../errors/index.ts';

type Headers = Record<string, string | string[] | undefined>;

/** 'gzip' for a gzip body, undefined for a plain one; anything else is refused. */
function encodingOf(headers: Headers): 'gzip' | undefined {
  const raw = headers['content-encoding'];
  const value = (Array.isArray(raw) ? raw.join(',') : raw ?? '').trim().toLowerCase();
  if (value === '' || value === 'identity') return undefined;
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  throw new RefugeError('bad_content_type', `Unsupported Content-Encoding: ${value}`);
}

/** A buffered body as it was meant: decompressed when sent gzip-encoded, at most `limit` bytes. */
export function decodedBody(headers: Headers, body: Buffer, limit: number): Buffer {
  if (encodingOf(headers) === undefined || body.length === 0) return body;
  try {
    return gunzipSync(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new RefugeError('too_large', `the decompressed body is larger than ${limit} bytes`, { cause: err });
    }
    throw new RefugeError('bad_request', 'the body is not valid gzip', { cause: err });
  }
}

/**
 * A streamed body (an attachment) as it was meant: through a gunzip when sent gzip-encoded. The
 * gunzip is made when the body is first read: made at once, a body never read (the request refused
 * before it, a missing database, a stale revision) still flowed into it, and bytes that were not
 * gzip failed it with no one listening, an uncaught error that ended the process. Bytes that are
 * not gzip (or end mid-stream) fail the read as the client's 400, as a buffered body's do.
 */
export function decodedStream(headers: Headers, payload: Readable): Readable {
  if (encodingOf(headers) === undefined) return payload;
  return Readable.from(gunzipped(payload), { objectMode: false });
}

async function* gunzipped(payload: Readable): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip();
  payload.on('error', (err) => gunzip.destroy(err));
  try {
    yield* payload.pipe(gunzip);
  } catch (err) {
    // zlib's errors carry its codes (Z_DATA_ERROR, Z_BUF_ERROR); the client's leaving is left as it is.
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('Z_')) {
      throw new RefugeError('bad_request', 'the body is not valid gzip', { cause: err });
    }
    throw err;
  }
}

/**
 * Refuses a request framed with a transfer coding other than chunked (`gzip, chunked`): Node
 * removes the chunking alone, so the rest would be read as the body meant. RFC 9112 6.1 answers
 * 501; this runs before the body is read, and the connection closes after the answer rather than
 * read the body through.
 */
export function checkTransferCoding(headers: Headers, reply: { header(name: string, value: string): unknown }): void {
  const raw = headers['transfer-encoding'];
  if (raw === undefined) return;
  const codings = (Array.isArray(raw) ? raw.join(',') : raw).split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  const other = codings.filter((c) => c !== 'chunked');
  if (other.length === 0) return;
  reply.header('Connection', 'close');
  throw new RefugeError('not_implemented', `Transfer-Encoding ${other.join(', ')} is not supported: only chunked`);
}
