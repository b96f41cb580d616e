// Framing shared by Refuge's mesh protocols: one length-prefixed JSON request and one JSON answer
// per stream (`{ok:true,result}` or CouchDB's `{error,reason}`), read with libp2p's lpStream helper.

import '#mesh/node20-shim';
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { RefugeError, isErrorCode, isRefugeError } from '../errors/index.ts';
import { changeRowJson } from '../documents/index.ts';
import type { ChangesEnd, PeerChangeRow, PeerChanges } from '../replication/index.ts';

export type Answer = { ok: true; result: unknown } | { error: string; reason: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A result already written as JSON text, in pieces (documents spliced from storage): framed as it
 * is, each piece encoded straight into the frame.
 */
export class JsonText {
  constructor(readonly parts: readonly string[]) {}
}

export function encodeJson(value: unknown): Uint8Array {
  const result = (value as { result?: unknown } | null)?.result;
  if (result instanceof JsonText) return utf8Of(['{"ok":true,"result":', ...result.parts, '}']);
  return encoder.encode(JSON.stringify(value));
}

/**
 * Strings encoded one after another into one buffer. A large answer is never joined into one
 * string first: joining a changes batch of 500 documents, flattening it and encoding it cost 0.55
 * µs a row more than this (.tmp/enc-micro.mjs). Pieces meet at ASCII characters (JSON punctuation),
 * so no surrogate pair is cut between two.
 */
function utf8Of(parts: readonly string[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  // A byte per UTF-16 unit at least; grown when a piece takes more (two or three).
  let out = new Uint8Array(size + 64);
  let at = 0;
  for (let part of parts) {
    for (;;) {
      const { read, written } = encoder.encodeInto(part, out.subarray(at));
      at += written;
      if (read === part.length) break;
      part = part.slice(read);
      const grown = new Uint8Array(out.length * 2 + part.length * 3);
      grown.set(out.subarray(0, at));
      out = grown;
    }
  }
  return out.subarray(0, at);
}

/** A changes answer as JSON text, with what a feed needs to go on from it. */
export class ChangesText extends JsonText {
  constructor(
    parts: readonly string[],
    readonly rows: number,
    readonly lastSeq: PeerChanges['lastSeq'],
  ) {
    super(parts);
  }
}

/**
 * A changes answer as JSON text, written a chunk of rows at a time as they are read (no row
 * outlives its chunk): rows that carry `docJson` get it as their `doc`, unparsed.
 */
export async function changesText(chunks: AsyncGenerator<PeerChangeRow[], ChangesEnd, undefined>): Promise<ChangesText> {
  const parts = ['{"results":['];
  let rows = 0;
  let next: IteratorResult<PeerChangeRow[], ChangesEnd>;
  try {
    while (!(next = await chunks.next()).done) {
      if (next.value.length === 0) continue;
      if (rows > 0) parts.push(',');
      rows += next.value.length;
      parts.push(next.value.map((row) => changeRowJson(row, row.attachmentBytes === undefined ? '' : ',"attachmentBytes":' + row.attachmentBytes)).join(','));
    }
  } catch (err) {
    await chunks.return(undefined as never).catch(() => undefined);
    throw err;
  }
  const { lastSeq, pending } = next.value;
  parts.push('],"lastSeq":' + JSON.stringify(lastSeq) + (pending === undefined ? '' : ',"pending":' + pending) + '}');
  return new ChangesText(parts, rows, lastSeq);
}

export function decodeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new RefugeError('bad_request', 'a mesh message is not UTF-8 JSON', { cause: err });
  }
}

/** What goes on the wire for a failure: the code and reason of a RefugeError, nothing internal. */
export function errorAnswer(err: unknown): Answer {
  if (isRefugeError(err)) return { error: err.code, reason: err.reason };
  return { error: 'internal', reason: 'the peer failed to answer' };
}

/** The error a peer's `{error,reason}` stands for (unknown codes become `internal`). */
export function answerError(answer: { error?: unknown; reason?: unknown }): RefugeError {
  const reason = typeof answer.reason === 'string' ? answer.reason : 'the peer refused';
  return new RefugeError(isErrorCode(answer.error) ? answer.error : 'internal', reason);
}

export interface Frames {
  /** The next JSON frame; `too_large` above the limit, `unavailable` when the stream ends first. */
  read(signal?: AbortSignal): Promise<unknown>;
  write(value: unknown, signal?: AbortSignal): Promise<void>;
}

/**
 * Writes a frame, giving up (`unavailable`) only once the stream has taken none of its bytes for
 * `stallMs`: a reader that stopped reading must not hold the writer and its answer for ever, while
 * a large answer crossing a slow link, a little at a time, still goes through.
 */
export async function writeUnlessStalled(io: Frames, stream: Stream, value: unknown, signal: AbortSignal, stallMs: number): Promise<void> {
  const stalled = new AbortController();
  const tick = Math.max(10, Math.floor(stallMs / 4));
  let last = Number.POSITIVE_INFINITY;
  let still = 0;
  const watch = setInterval(() => {
    const queued = (stream as { writeBufferLength?: number }).writeBufferLength ?? 0;
    still = queued > 0 && queued >= last ? still + tick : 0;
    last = queued;
    if (still >= stallMs) stalled.abort(new RefugeError('unavailable', `the reader took nothing for ${stallMs} ms`));
  }, tick);
  try {
    await io.write(value, AbortSignal.any([signal, stalled.signal]));
  } finally {
    clearInterval(watch);
  }
}

/** Length-prefixed JSON frames over a stream, each at most `maxBytes` when read. */
export function frames(stream: Stream, maxBytes: number): Frames {
  // The byte buffer must hold a whole frame, or a large (allowed) frame would reset the stream.
  const lp = lpStream(stream, { maxDataLength: maxBytes, maxBufferSize: maxBytes + 16 });
  return {
    async read(signal) {
      let frame;
      try {
        frame = await lp.read({ signal });
      } catch (err) {
        const name = (err as Error | null)?.name ?? '';
        if (name === 'InvalidDataLengthError') throw new RefugeError('too_large', `a mesh message is larger than ${maxBytes} bytes`, { cause: err });
        throw new RefugeError('unavailable', `the mesh stream ended early: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
      return decodeJson(frame.subarray());
    },
    async write(value, signal) {
      try {
        await lp.write(encodeJson(value), { signal });
      } catch (err) {
        throw new RefugeError('unavailable', `the mesh stream closed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      }
    },
  };
}
