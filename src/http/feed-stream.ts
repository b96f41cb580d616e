// The long-lived feeds CouchDB serves for `_changes` and `_db_updates`: continuous (one JSON line per
// row) and eventsource (SSE), with heartbeats and an idle timeout, and longpoll (one answer once
// something happens). Rows are pulled only when the socket has drained (back-pressure), and every
// feed ends cleanly when the client leaves or the server stops.

import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lifetimeSignal, type ServerContext } from './context.ts';

export interface StreamFeedOptions<Row> {
  sse: boolean;
  /** Milliseconds between newlines that keep an idle connection open. */
  heartbeat?: number;
  /** Ends the feed after this long without a row (60 s at most); ignored when a heartbeat is asked for, as CouchDB does. */
  timeout?: number;
  /** Rows to send at most. */
  limit?: number;
  /** The sequence reported in the closing `last_seq` line when no row was sent. */
  since: number;
  /** The live rows, batch by batch, until `signal` aborts. */
  batches: (signal: AbortSignal, batchSize: number) => AsyncIterable<Row[]>;
  /** A row as its JSON text on the wire, and its sequence. */
  json: (row: Row) => string;
  seqOf: (row: Row) => number;
  /** The closing line's `pending` (changes after its `last_seq`), where the feed has one. */
  pending?: (lastSeq: number) => Promise<number>;
  /** Asked before each batch: false ends the feed there, with no closing line (the reader's access was revoked). */
  allowed?: () => Promise<boolean>;
  /**
   * The sequence the rows were read up to, changes a filter passed over included: the closing
   * `last_seq` when it is past the last row sent, as CouchDB reports it.
   */
  readSeq?: () => number;
}

/** The closing `last_seq` object, with `pending` when the feed counts it (a failed count leaves it out). */
async function closing(lastSeq: number, pending: ((lastSeq: number) => Promise<number>) | undefined): Promise<string> {
  const n = pending ? await pending(lastSeq).catch(() => undefined) : undefined;
  return n === undefined ? `"last_seq":${JSON.stringify(lastSeq)}` : `"last_seq":${JSON.stringify(lastSeq)},"pending":${n}`;
}

/** Ends the response and resolves once its bytes are handed to the OS (or the socket is gone). */
function ended(reply: FastifyReply): Promise<void> {
  const res = reply.raw;
  if (res.destroyed || res.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('close', resolve);
    res.end(resolve);
  });
}

/**
 * Writes a chunk; resolves once the socket takes more (drained) or is gone: a client that stops
 * reading and then leaves never drains, and its feed would wait for ever, holding its batch.
 */
export function write(reply: Pick<FastifyReply, 'raw'>, chunk: string): Promise<void> {
  const res = reply.raw;
  if (res.destroyed || res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const go = () => {
      res.off('drain', go);
      res.off('close', go);
      resolve();
    };
    res.once('drain', go);
    res.once('close', go);
  });
}

/**
 * The headers of a hijacked feed: those hooks set before (Server, request id) with this feed's own
 * type and caching. Fastify keeps names lower-cased, so its `cache-control` is replaced, not sent
 * twice beside ours.
 */
function feedHeaders(reply: FastifyReply, contentType: string, cacheControl: string): OutgoingHttpHeaders {
  const headers = { ...(reply.getHeaders() as OutgoingHttpHeaders) };
  delete headers['cache-control'];
  delete headers['content-type'];
  return { ...headers, 'Content-Type': contentType, 'Cache-Control': cacheControl, 'Transfer-Encoding': 'chunked' };
}

/**
 * A feed's own stop (its idle timer pulls it too), pulled when the request's lifetime ends: the
 * client leaving or the server stopping. `release` unhooks it from that lifetime as the feed ends;
 * `done` then tells the server the feed is over.
 */
function feedStop(ctx: ServerContext, req: FastifyRequest): { signal: AbortSignal; stop: () => void; release: () => void; done: () => void } {
  const lifetime = lifetimeSignal(ctx, req);
  const ac = new AbortController();
  const stop = () => ac.abort();
  // Aborted already when the client left before the feed began: it ends at once.
  if (lifetime.signal.aborted) stop();
  else lifetime.signal.addEventListener('abort', stop, { once: true });
  return { signal: ac.signal, stop, release: () => lifetime.signal.removeEventListener('abort', stop), done: lifetime.done };
}

/** CouchDB's `changes_timeout`: the longest a feed without heartbeats waits for a change. */
const MAX_FEED_TIMEOUT_MS = 60_000;

/**
 * How long a feed waits without a row before it ends, as CouchDB has it: a heartbeat keeps the
 * feed open until the client leaves, whatever `timeout` says; without one, `timeout` (60 s at most).
 */
function feedTimeout(o: { heartbeat?: number; timeout?: number }): number | undefined {
  if (o.heartbeat) return undefined;
  return Math.min(o.timeout ?? MAX_FEED_TIMEOUT_MS, MAX_FEED_TIMEOUT_MS);
}

export async function streamFeed<Row>(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, o: StreamFeedOptions<Row>): Promise<void> {
  const { signal, stop, release, done } = feedStop(ctx, req);
  reply.hijack();
  reply.raw.writeHead(200, feedHeaders(reply, o.sse ? 'text/event-stream' : 'application/json', 'no-cache'));
  // Send the headers now: a feed with nothing to say yet must still open at once for the client.
  reply.raw.flushHeaders();
  const idleLimit = feedTimeout(o);
  let idle: ReturnType<typeof setTimeout> | undefined;
  const armIdle = () => {
    if (idleLimit === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(stop, idleLimit);
  };
  // An SSE heartbeat is an event of its own, as CouchDB 2+ sends it (EventSource ignores bare newlines).
  const heartbeat = o.sse ? 'event: heartbeat\ndata: \n\n' : '\n';
  const beat = o.heartbeat ? setInterval(() => beatUnlessFull(reply, heartbeat), o.heartbeat) : undefined;
  let lastSeq = o.since;
  let sent = 0;
  let revoked = false;
  let failed = false;
  const limit = o.limit ?? Infinity;
  try {
    armIdle();
    if (limit > 0) {
      for await (const batch of o.batches(signal, Math.min(limit, 500))) {
        armIdle();
        if (o.allowed && !(await o.allowed())) {
          revoked = true;
          break;
        }
        for (const row of batch.slice(0, limit - sent)) {
          const seq = o.seqOf(row);
          const json = o.json(row);
          await write(reply, o.sse ? `data: ${json}\nid: ${seq}\n\n` : json + '\n');
          lastSeq = seq;
          sent++;
        }
        if (sent >= limit || reply.raw.destroyed) break;
      }
    }
    // Every row read was sent (no limit cut the last batch): the read's sequence is the feed's.
    if (sent < limit && o.readSeq) lastSeq = Math.max(lastSeq, o.readSeq());
    if (!o.sse && !revoked && !reply.raw.destroyed) {
      const last = await closing(lastSeq, o.pending);
      if (!reply.raw.destroyed) reply.raw.write(`{${last}}\n`);
    }
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    clearTimeout(idle);
    clearInterval(beat);
    release();
    // Done once the last bytes are out: a shutting-down server cuts the sockets after that.
    if (failed) cut(reply);
    else await ended(reply);
    done();
  }
}

/**
 * A feed that fails once its headers are out (a filter that throws) can no longer answer an error:
 * its connection is cut without the closing chunk, as CouchDB's `http_abort` does, so the client
 * knows the answer is incomplete instead of reading it as a feed that ended.
 */
function cut(reply: FastifyReply): void {
  reply.raw.destroy();
}

export interface LongpollOptions<Row> {
  /** Answers with no rows after this long (60 s at most); ignored when a heartbeat is asked for, as CouchDB does. */
  timeout?: number;
  /** Milliseconds between newlines sent while waiting. */
  heartbeat?: number;
  /** The `last_seq` answered when no row comes. */
  since: number;
  /** The live rows after `since`; the first batch is the answer. */
  live: (signal: AbortSignal) => AsyncGenerator<Row[], void, undefined>;
  /** A row as its JSON text on the wire. */
  json: (row: Row) => string;
  seqOf: (row: Row) => number;
  pending?: (lastSeq: number) => Promise<number>;
  /** Asked before the rows are answered: false answers none (the reader's access was revoked). */
  allowed?: () => Promise<boolean>;
  /** As StreamFeedOptions.readSeq: the `last_seq` of an answer without rows, when past `since`. */
  readSeq?: () => number;
}

/**
 * A heartbeat only keeps a quiet connection open: while the client is not reading (what was written
 * waits in the buffer), it is skipped, or a stalled client would grow the buffer by one per beat.
 */
export function beatUnlessFull(reply: FastifyReply, beat: string): void {
  if (!reply.raw.writableNeedDrain) reply.raw.write(beat);
}

/**
 * Longpoll after a first read found nothing, answered as CouchDB does: the headers and the opening
 * `{"results":[` at once (so the client knows its request was taken), a newline per heartbeat while
 * waiting, then the first batch of live rows and `last_seq` — or no rows once the timeout passes.
 * The client leaving or the server stopping ends the wait.
 */
export async function streamLongpoll<Row>(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, o: LongpollOptions<Row>): Promise<void> {
  const { signal, stop, release, done } = feedStop(ctx, req);
  const limit = feedTimeout(o);
  const timer = limit === undefined ? undefined : setTimeout(stop, limit);
  reply.hijack();
  reply.raw.writeHead(200, feedHeaders(reply, 'application/json', 'must-revalidate'));
  reply.raw.write('{"results":[\n');
  const beat = o.heartbeat ? setInterval(() => beatUnlessFull(reply, '\n'), o.heartbeat) : undefined;
  let rows: Row[] = [];
  let failed = false;
  try {
    const feed = o.live(signal);
    const next = await feed.next();
    await feed.return();
    if (!next.done && (!o.allowed || (await o.allowed()))) rows = next.value;
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    clearTimeout(timer);
    clearInterval(beat);
    release();
    if (failed) cut(reply);
    else if (!reply.raw.destroyed) {
      const lastSeq = rows.length > 0 ? o.seqOf(rows[rows.length - 1]!) : Math.max(o.since, o.readSeq?.() ?? 0);
      const last = await closing(lastSeq, o.pending);
      if (!reply.raw.destroyed) reply.raw.write(rows.map(o.json).join(',\n') + `\n],\n${last}}\n`);
    }
    await ended(reply);
    done();
  }
}
