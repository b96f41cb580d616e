// The messages of `/refuge/blobs/1.0.0`: length-prefixed frames read with back-pressure, requests
// checked as they come off the wire, and a blob's bytes as data frames ended by an empty one.

import '#mesh/node20-shim';
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { isBlobId, type BlobId, type BlobRead } from '../blobs/core.ts';
import { RefugeError } from '../errors/index.ts';

export const BLOB_PROTOCOL = '/refuge/blobs/1.0.0';
/** Bytes per data frame; a zero-length frame ends the blob. */
export const CHUNK = 256 * 1024;
export const MAX_CONTROL_BYTES = 1024 * 1024;
export const MAX_IDS = 10_000;
/** Silence after which a peer is given up on (a slow link still sends a frame well within it). */
export const WAIT_MS = 30_000;

/** Largest frame read: a request or answer, or a data frame. */
const MAX_FRAME = Math.max(MAX_CONTROL_BYTES, CHUNK);
/**
 * Unread bytes past which the stream is paused, and below which it is resumed: while paused, more
 * than a whole frame is always buffered, so a read never waits on a stream that is paused.
 */
const RESUME_AT = MAX_FRAME + 16;
const PAUSE_AT = 2 * MAX_FRAME;
/** What a paused stream may still receive: the window yamux granted, at most 16 MiB. */
const MAX_WINDOW = 16 * 1024 * 1024;

/** Length-prefixed frames over one stream. */
export interface Lp {
  read(options?: { signal?: AbortSignal }): Promise<Uint8Array>;
  write(data: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
}

/** How many bytes the varint length prefix of an `n`-byte frame takes. */
function prefixLength(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/**
 * Frames with back-pressure. libp2p's reader buffers whatever arrives and resets the stream past its
 * limit, and yamux grants the sender more window as soon as data is handed over, read or not: a
 * reader slower than the link (a disk, a remote store) had its transfer cut. So the stream pauses
 * (yamux stops granting window) while more than PAUSE_AT bytes wait unread, and resumes once the
 * reader caught up; what arrives meanwhile is bounded by the window granted before.
 */
export function framed(stream: Stream): Lp {
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, MAX_WINDOW + MAX_FRAME);
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME, maxBufferSize: RESUME_AT + MAX_WINDOW + 2 * MAX_FRAME });
  let unread = 0;
  let paused = false;
  let resuming = false;
  const pause = () => {
    try {
      stream.pause();
      paused = true;
    } catch {
      // closing already: nothing more will come
    }
  };
  stream.addEventListener('message', (evt) => {
    unread += evt.data.byteLength;
    // Not from inside resume(): it re-opens yamux's window after handing over what was held.
    if (!paused && !resuming && unread > PAUSE_AT) pause();
  });
  return {
    async read(options) {
      const frame = (await lp.read(options)).subarray();
      unread -= frame.length + prefixLength(frame.length);
      if (paused && unread < RESUME_AT) {
        paused = false;
        resuming = true;
        try {
          stream.resume();
        } catch {
          // closing: the buffered rest is still read
        } finally {
          resuming = false;
        }
        if (unread > PAUSE_AT) pause();
      }
      return frame;
    },
    write: (data, options) => lp.write(data, options),
  };
}

/**
 * `get` and `put` carry `offset` when they continue a cut transfer (the bytes from there on travel);
 * `staged` asks how many bytes of a put the receiver kept. A peer that predates offsets answers a
 * `get` from byte 0 without saying `offset`, and refuses `staged` as a bad request.
 */
export type BlobRequest =
  | { op: 'have'; ids: BlobId[] }
  | { op: 'get'; id: BlobId; offset?: number }
  | { op: 'put'; id: BlobId; size: number; offset?: number }
  | { op: 'staged'; id: BlobId; size: number };

const bad = (reason: string) => new RefugeError('bad_request', reason);

/** A byte count or offset: a non-negative safe integer. */
export const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

export function checkRequest(value: unknown): BlobRequest {
  const r = value as { op?: unknown; ids?: unknown; id?: unknown; size?: unknown; offset?: unknown } | null;
  const offset = r?.offset;
  if (offset !== undefined && !isCount(offset)) throw bad('a blob request\'s offset is a byte count');
  const at = offset ? { offset } : {};
  if (r?.op === 'have' && Array.isArray(r.ids) && r.ids.length <= MAX_IDS && r.ids.every(isBlobId)) return { op: 'have', ids: r.ids };
  if (r?.op === 'get' && isBlobId(r.id)) return { op: 'get', id: r.id, ...at };
  if (r?.op === 'put' && isBlobId(r.id) && isCount(r.size)) {
    if (offset !== undefined && offset > r.size) throw bad(`a put's offset ${offset} is past its ${r.size} bytes`);
    return { op: 'put', id: r.id, size: r.size, ...at };
  }
  if (r?.op === 'staged' && isBlobId(r.id) && isCount(r.size)) return { op: 'staged', id: r.id, size: r.size };
  throw bad(`a blob request is {op:"have", ids:[≤${MAX_IDS} blob ids]}, {op:"get", id, offset?}, {op:"put", id, size, offset?} or {op:"staged", id, size}`);
}

/**
 * The data frames of one blob, `size` bytes announced, ended by an empty frame; more or fewer bytes
 * than announced fail it (the store then keeps nothing). A cut stream fails with the stream's error.
 */
export async function* framesOf(lp: Lp, size: number, who: string, id: BlobId, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  let total = 0;
  for (;;) {
    const wait = AbortSignal.timeout(WAIT_MS);
    const frame = await lp.read({ signal: signal ? AbortSignal.any([wait, signal]) : wait });
    if (frame.length === 0) break;
    total += frame.length;
    if (total > size) throw new RefugeError('hash_mismatch', `${who} sent more bytes than the ${size} it announced for ${id}`);
    yield frame;
  }
  if (total !== size) throw new RefugeError('hash_mismatch', `${who} sent ${total} bytes of the ${size} it announced for ${id}`);
}

/** Sends a read's bytes as data frames, then the empty frame that ends them (`read` absent: none). */
export async function writeFrames(lp: Lp, read: BlobRead | undefined, signal?: AbortSignal): Promise<void> {
  const opts = signal ? { signal } : {};
  if (read) {
    for await (const chunk of read) {
      for (let at = 0; at < chunk.length; at += CHUNK) await lp.write(chunk.subarray(at, at + CHUNK), opts);
    }
  }
  await lp.write(new Uint8Array(0), opts);
}
