// A JSON request body read whole within the body limit, as Fastify reads one (its 413 past the
// limit, its 400 for a length that disagrees with the bytes); a document write past the limit is
// handed on unread instead, to be streamed by its route (streamed-json.ts).

import { Readable } from 'node:stream';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { decodedStream } from './content-encoding.ts';
import { StreamedJsonBody, type BodyShape } from './streamed-json.ts';

type Headers = Record<string, string | string[] | undefined>;

const tooLarge = () => new RefugeError('too_large', 'Request entity too large');

/**
 * The body's bytes (still encoded as sent), or a StreamedJsonBody when `shape` says the route
 * streams and the body is larger than `limit`: at once when its Content-Length says so, else once
 * that many bytes came (the ones read so far are read again first).
 */
export function jsonRequestBody(headers: Headers, payload: Readable, limit: number, shape: BodyShape | undefined): Promise<Buffer | StreamedJsonBody> {
  const declared = Number(headers['content-length']);
  if (declared > limit) {
    if (shape === undefined) return Promise.reject(tooLarge());
    return Promise.resolve(new StreamedJsonBody(decodedStream(headers, payload), shape));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onEnd);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= limit) {
        chunks.push(chunk);
        return;
      }
      stop();
      if (shape === undefined) return reject(tooLarge());
      payload.pause();
      chunks.push(chunk);
      resolve(new StreamedJsonBody(decodedStream(headers, Readable.from(readAgain(chunks, payload), { objectMode: false })), shape));
    };
    const onEnd = (err?: Error) => {
      stop();
      // A refusal made while reading (a signed body that is not the one signed) is answered as it is.
      if (err) return reject(isRefugeError(err) ? err : new RefugeError('bad_request', 'the request body could not be read', { cause: err }));
      if (!Number.isNaN(declared) && received !== declared) return reject(new RefugeError('bad_request', 'Invalid Content-Length'));
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onEnd);
    payload.resume();
  });
}

async function* readAgain(chunks: Buffer[], rest: Readable): AsyncGenerator<Buffer> {
  yield* chunks.splice(0);
  yield* rest;
}
