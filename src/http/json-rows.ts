// JSON answers whose rows come chunk by chunk from a listing (`_all_docs`, `_changes`): a small one
// goes whole, with its length unless asked otherwise; a larger one is streamed, each chunk written
// once the socket takes more, so the server holds about a chunk of it, never the whole answer.

import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { headersOnly } from './blob-range.ts';

/** Answers up to this many characters go whole; past it, what was read goes out and the rest follows. */
export const WHOLE_ANSWER_CHARS = 64 * 1024;

export interface RowsAnswer {
  /** The rows as JSON texts, chunk by chunk (a chunk may be empty). */
  chunks: AsyncIterator<string[], void, undefined>;
  /** The text before the first row: asked once a row has come, or none will. */
  head(): string;
  /** The text after the last row: asked once the rows ended. */
  tail(): string;
  /** Between two rows (default ','). */
  separator?: string;
  /** Releases what the rows are read from; called once, whether the answer was sent, cut off or failed. */
  close(): Promise<void>;
}

/** What Fastify names a JSON answer it serializes itself: text answers say the same. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** Rows as their JSON texts, chunk by chunk (`wire` lays a row out for the wire first). */
export async function* jsonTexts<T>(chunks: AsyncIterable<readonly T[]>, wire: (row: T) => unknown = (row) => row): AsyncGenerator<string[], void, undefined> {
  for await (const rows of chunks) yield rows.map((row) => JSON.stringify(wire(row)));
}

/**
 * Sends the answer. The first rows are read before anything goes out, so a failure there is an
 * error answer; one later can only cut the connection (Fastify destroys it when the stream
 * fails), as CouchDB does. A client that leaves ends the stream, and with it the read.
 */
export async function sendRows(reply: FastifyReply, answer: RowsAnswer, framing: { chunked?: boolean } = {}): Promise<FastifyReply> {
  // A HEAD has its headers once the listing is open (its options checked, its snapshot taken): no row is read.
  if (reply.request.method === 'HEAD') {
    await answer.close();
    return headersOnly(reply.type(JSON_TYPE));
  }
  const first: string[] = [];
  let chars = 0;
  try {
    while (chars <= WHOLE_ANSWER_CHARS) {
      const next = await answer.chunks.next();
      if (next.done) {
        const text = answer.head() + first.join(answer.separator ?? ',') + answer.tail();
        await answer.close();
        return framing.chunked ? sendChunked(reply, text) : reply.type(JSON_TYPE).send(text);
      }
      for (const row of next.value) {
        first.push(row);
        chars += row.length;
      }
    }
  } catch (err) {
    await answer.close();
    throw err;
  }
  // One piece at a time (highWaterMark 1): the next chunk is read once the socket took the last.
  return reply.type(JSON_TYPE).send(Readable.from(streamed(answer, first), { objectMode: false, highWaterMark: 1 }));
}

async function* streamed(answer: RowsAnswer, first: string[]): AsyncGenerator<string, void, undefined> {
  try {
    const separator = answer.separator ?? ',';
    yield answer.head() + first.join(separator);
    let comma = first.length > 0;
    for (;;) {
      const next = await answer.chunks.next();
      if (next.done) break;
      if (next.value.length === 0) continue;
      yield (comma ? separator : '') + next.value.join(separator);
      comma = true;
    }
    yield answer.tail();
  } finally {
    await answer.close();
  }
}

/**
 * A whole JSON answer sent in chunked framing, without a length, as CouchDB sends `_changes` and
 * `_bulk_get`. A client that reads a cut-short body by its length may never notice the cut: PouchDB
 * 9 in Node (node-fetch 2) waits forever on a Content-Length body whose connection ended early, and
 * rejects a chunked one that ends before its last chunk, so its replication retries.
 */
export function sendChunked(reply: FastifyReply, text: string): FastifyReply {
  return reply.type(JSON_TYPE).send(Readable.from([text], { objectMode: false }));
}

/**
 * Several answers as one `{"results":[...]}` (a `/queries` POST), each opened once the one before is
 * done and its rows streamed as one answer's are: the server holds about a chunk of one of them.
 * Each answer's head is written once its first row came (or none will), as sendRows writes one's.
 */
export function resultsAnswer(opens: ReadonlyArray<() => Promise<RowsAnswer>>): RowsAnswer {
  const chunks = (async function* () {
    for (let i = 0; i < opens.length; i++) {
      const answer = await opens[i]!();
      try {
        const separator = answer.separator ?? ',';
        const lead = i > 0 ? ',' : '';
        let started = false;
        for (;;) {
          const next = await answer.chunks.next();
          if (next.done) break;
          if (next.value.length === 0) continue;
          const pieces = next.value.map((row, k) => (started || k > 0 ? separator + row : lead + answer.head() + row));
          started = true;
          yield pieces;
        }
        yield [(started ? '' : lead + answer.head()) + answer.tail()];
      } finally {
        await answer.close();
      }
    }
  })();
  return {
    chunks,
    head: () => '{"results":[',
    tail: () => ']}',
    // Each piece carries its own separators.
    separator: '',
    close: async () => void (await chunks.return(undefined).catch(() => undefined)),
  };
}
