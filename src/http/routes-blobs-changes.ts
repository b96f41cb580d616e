// `GET /_blobs/_changes`: the node's recent blob additions and removals (see blob-log.ts) as a
// normal, longpoll, continuous or eventsource feed. `since` is `N-epoch` (as handed out), `N` or `now`.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { BlobChangeLog, type BlobChange } from './blob-log.ts';
import { lifetimeSignal, type ServerContext } from './context.ts';
import { beatUnlessFull, write } from './feed-stream.ts';
import { int, msParam, str, type Query } from './params.ts';
import type { BlobHttp } from './routes-blobs.ts';
import { blobChangesSocket } from './routes-blobs-ws.ts';

const FEEDS = ['normal', 'longpoll', 'continuous', 'eventsource'] as const;
type Feed = (typeof FEEDS)[number];

function wireChange(c: BlobChange, log: BlobChangeLog) {
  return c.size === undefined ? { seq: log.format(c.seq), type: c.type, id: c.id } : { seq: log.format(c.seq), type: c.type, id: c.id, size: c.size };
}

export function blobChangesRoutes(scope: FastifyInstance, ctx: ServerContext, blobs: BlobHttp): void {
  const { log } = blobs;

  // WebSocket upgrades (feed=websocket) go to wsHandler; every other request to the handler.
  scope.route({ method: 'GET', url: '/_blobs/_changes', wsHandler: (socket, req) => blobChangesSocket(ctx, blobs, socket, req), handler: async (req: FastifyRequest, reply: FastifyReply) => {
    const q = req.query as Query;
    const feed = (str(q, 'feed') ?? 'normal') as Feed;
    if (feed === ('websocket' as Feed)) {
      throw new RefugeError('not_implemented', 'feed=websocket needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket): plain HTTP gets feed=eventsource or longpoll');
    }
    if (!FEEDS.includes(feed)) throw new RefugeError('bad_request', `Supported \`feed\` types: ${FEEDS.join(', ')}`);
    const limit = int(q, 'limit') ?? Infinity;
    const timeout = msParam(q, 'timeout') ?? 60_000;
    const lastEventId = req.headers['last-event-id'];
    const since = BlobChangeLog.parseSince(str(q, 'since') ?? (typeof lastEventId === 'string' ? lastEventId : undefined));
    const position = log.resolve(since);

    if (feed === 'normal' || feed === 'longpoll') {
      if (position === null) return { results: [], last_seq: log.format(log.lastSeq), reset: true };
      let results = log.after(position, limit);
      if (results.length === 0 && feed === 'longpoll' && limit > 0) {
        const { signal, done } = lifetimeSignal(ctx, req);
        const ac = AbortSignal.any([signal, AbortSignal.timeout(timeout)]);
        try {
          await log.wait(position, ac);
        } finally {
          done();
        }
        // A log reset meanwhile (overflow) is reported like a stale `since`.
        const again = log.resolve({ seq: position, epoch: log.epoch });
        if (again === null) return { results: [], last_seq: log.format(log.lastSeq), reset: true };
        results = log.after(position, limit);
      }
      const last = results.at(-1)?.seq ?? position;
      return { results: results.map((c) => wireChange(c, log)), last_seq: log.format(last) };
    }
    return stream(ctx, req, reply, blobs, feed, position, limit, msParam(q, 'heartbeat'));
  } });
}

/** continuous (one JSON line per change) and eventsource (SSE; `id:` is the seq, so reconnects resume). */
async function stream(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  { log }: BlobHttp,
  feed: 'continuous' | 'eventsource',
  position: number | null,
  limit: number,
  heartbeat: number | undefined,
): Promise<void> {
  const sse = feed === 'eventsource';
  const { signal, done } = lifetimeSignal(ctx, req);
  reply.hijack();
  reply.raw.writeHead(200, {
    'Content-Type': sse ? 'text/event-stream' : 'application/json',
    'Cache-Control': 'no-cache',
    'Transfer-Encoding': 'chunked',
  });
  reply.raw.flushHeaders();
  const beat = setInterval(() => beatUnlessFull(reply, sse ? ': heartbeat\n\n' : '\n'), heartbeat || 30_000);
  const line = (obj: unknown, id?: string) => (sse ? `${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(obj)}\n\n` : JSON.stringify(obj) + '\n');
  try {
    let at = position;
    if (at === null) {
      // The client is too far behind: tell it to re-list; it follows from here.
      at = log.lastSeq;
      await write(reply, line({ reset: true, last_seq: log.format(at) }, log.format(at)));
    }
    let sent = 0;
    while (!signal.aborted && sent < limit) {
      const batch = log.after(at, limit - sent);
      if (batch.length === 0) {
        await log.wait(at, signal);
        if (!signal.aborted && log.resolve({ seq: at, epoch: log.epoch }) === null) {
          at = log.lastSeq;
          await write(reply, line({ reset: true, last_seq: log.format(at) }, log.format(at)));
        }
        continue;
      }
      for (const c of batch) {
        await write(reply, line(wireChange(c, log), log.format(c.seq)));
        at = c.seq;
        sent++;
      }
    }
    if (!sse) await write(reply, JSON.stringify({ last_seq: log.format(at) }) + '\n');
  } finally {
    clearInterval(beat);
    done();
    if (!reply.raw.destroyed) reply.raw.end();
  }
}
