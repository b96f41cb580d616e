// `_changes` over HTTP: normal, longpoll, continuous and eventsource feeds (websocket in
// routes-changes-ws.ts), filtered by doc ids or
// a Mango selector or a design-document filter. Streaming feeds pull a batch only when the socket has drained (back-pressure)
// and end cleanly when the client leaves or the server stops.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import type { ChangeRow, ChangesOptions, Database, UserCtx } from '../documents/index.ts';
import { dbOf, lifetimeSignal, type ServerContext } from './context.ts';
import { bool, int, json, jsonStringArray, str, type Query } from './params.ts';
import { dbChangesSocket } from './routes-changes-ws.ts';
import { changesWire } from './wire.ts';

type Feed = 'normal' | 'longpoll' | 'continuous' | 'eventsource' | 'websocket';

interface ParsedChanges {
  feed: Feed;
  options: ChangesOptions;
  heartbeat?: number;
  timeout?: number;
}

async function parse(db: Database, q: Query, body: unknown, user?: UserCtx): Promise<ParsedChanges> {
  const feed = (str(q, 'feed') ?? 'normal') as Feed;
  if (!['normal', 'longpoll', 'continuous', 'eventsource', 'websocket'].includes(feed)) {
    throw new RefugeError('bad_request', 'Supported `feed` types: normal, continuous, longpoll, eventsource, websocket');
  }
  const b = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const sinceRaw = str(q, 'since') ?? (b.since !== undefined ? String(b.since) : undefined);
  let since = 0;
  if (sinceRaw === 'now') since = (await db.info()).updateSeq;
  else if (sinceRaw !== undefined) {
    // CouchDB clients may echo back a "N-opaque" sequence: its numeric prefix is ours.
    const m = /^([0-9]{1,15})(-.*)?$/.exec(sinceRaw);
    if (!m) throw new RefugeError('bad_request', 'Malformed sequence supplied in \'since\' parameter.');
    since = Number(m[1]);
  }
  const options: ChangesOptions = {
    since,
    limit: int(q, 'limit'),
    descending: bool(q, 'descending'),
    includeDocs: bool(q, 'include_docs'),
    conflicts: bool(q, 'conflicts'),
    // Refuge's extension (CouchDB ignores it): with include_docs, docs carry `_revisions`, so a
    // replicator can write them without asking _bulk_get for them again.
    revs: bool(q, 'revs'),
    style: (str(q, 'style') ?? 'main_only') as ChangesOptions['style'],
  };
  const filter = str(q, 'filter');
  if (filter === '_doc_ids') {
    options.docIds = jsonStringArray(b.doc_ids ?? json(q, 'doc_ids'), 'doc_ids') ?? [];
  } else if (filter === '_selector') {
    if (b.selector === undefined) throw new RefugeError('bad_request', 'Selector must be specified in POST payload');
    options.selector = b.selector;
  } else if (filter !== undefined) {
    // `_design`, `_view` (with `view=ddoc/name`) and `ddoc/name`: run by the design layer, which
    // hands the whole query string to a filter function as `req.query`, as CouchDB does.
    options.filter = filter;
    const view = str(q, 'view');
    if (view !== undefined) options.view = view;
    options.queryParams = { ...q };
    if (user) options.userCtx = user;
  }
  const heartbeatRaw = str(q, 'heartbeat');
  const heartbeat = heartbeatRaw === 'true' ? 60_000 : int(q, 'heartbeat');
  return { feed, options, heartbeat: heartbeat === 0 ? undefined : heartbeat, timeout: int(q, 'timeout') };
}

function write(reply: FastifyReply, chunk: string): Promise<void> {
  const ok = reply.raw.write(chunk);
  return ok ? Promise.resolve() : new Promise((resolve) => reply.raw.once('drain', resolve));
}

async function stream(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, db: Database, p: ParsedChanges): Promise<void> {
  const sse = p.feed === 'eventsource';
  const { signal, done } = lifetimeSignal(ctx, req);
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener('abort', stop, { once: true });
  reply.hijack();
  reply.raw.writeHead(200, {
    'Content-Type': sse ? 'text/event-stream' : 'application/json',
    'Cache-Control': 'no-cache',
    'Transfer-Encoding': 'chunked',
  });
  // Send the headers now: a feed with nothing to say yet must still open at once for the client.
  reply.raw.flushHeaders();
  const idleLimit = p.timeout ?? (p.heartbeat ? undefined : 60_000);
  let idle: ReturnType<typeof setTimeout> | undefined;
  const armIdle = () => {
    if (idleLimit === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(stop, idleLimit);
  };
  const beat = p.heartbeat ? setInterval(() => reply.raw.write('\n'), p.heartbeat) : undefined;
  let lastSeq = p.options.since ?? 0;
  let sent = 0;
  const limit = p.options.limit ?? Infinity;
  try {
    armIdle();
    if (limit > 0) {
      const { limit: _l, descending: _d, ...subscribe } = p.options;
      for await (const batch of db.subscribe({ ...subscribe, batchSize: Math.min(limit, 500), signal: ac.signal })) {
        armIdle();
        for (const row of batch.slice(0, limit - sent) as ChangeRow[]) {
          await write(reply, sse ? `data: ${JSON.stringify(row)}\nid: ${row.seq}\n\n` : JSON.stringify(row) + '\n');
          lastSeq = row.seq;
          sent++;
        }
        if (sent >= limit) break;
      }
    }
    if (!sse && !reply.raw.destroyed) reply.raw.write(JSON.stringify({ last_seq: lastSeq }) + '\n');
  } finally {
    clearTimeout(idle);
    clearInterval(beat);
    signal.removeEventListener('abort', stop);
    done();
    if (!reply.raw.destroyed) reply.raw.end();
  }
}

async function longpoll(ctx: ServerContext, req: FastifyRequest, db: Database, p: ParsedChanges) {
  const first = await db.changes(p.options);
  if (first.results.length > 0 || p.options.limit === 0) return changesWire(first);
  const { signal, done } = lifetimeSignal(ctx, req);
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener('abort', stop, { once: true });
  const timer = setTimeout(stop, p.timeout ?? 60_000);
  try {
    const { limit, descending: _d, ...subscribe } = p.options;
    const feed = db.subscribe({ ...subscribe, since: first.lastSeq, batchSize: limit ?? 1000, signal: ac.signal });
    const next = await feed.next();
    await feed.return();
    const results = next.done ? [] : next.value;
    return changesWire({ results, lastSeq: results.length ? results[results.length - 1]!.seq : first.lastSeq });
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', stop);
    done();
  }
}

export function changesRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    const p = await parse(db, req.query as Query, req.body, req.user);
    if (p.feed === 'websocket') {
      throw new RefugeError('not_implemented', 'feed=websocket needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket): plain HTTP gets feed=continuous or eventsource');
    }
    if (p.feed === 'continuous' || p.feed === 'eventsource') return stream(ctx, req, reply, db, p);
    if (p.feed === 'longpoll') return longpoll(ctx, req, db, p);
    return changesWire(await db.changes(p.options));
  };
  // WebSocket upgrades go to the socket feed; every other GET to the HTTP feeds.
  app.route({ method: 'GET', url: '/:db/_changes', wsHandler: (socket, req) => dbChangesSocket(ctx, socket, req, parse), handler });
  app.post('/:db/_changes', handler);
}
