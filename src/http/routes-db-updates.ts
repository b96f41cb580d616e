// `GET /_db_updates` (server admins only, as in CouchDB): databases created, updated and deleted on
// this node, as a normal, longpoll, continuous or eventsource feed (the node keeps the log).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { sinceHere } from '../documents/index.ts';
import type { DbUpdateRow } from '../node/index.ts';
import { requireAdmin } from './auth.ts';
import type { ServerContext } from './context.ts';
import { streamFeed, streamLongpoll } from './feed-stream.ts';
import { heartbeatParam, int, str, trueFlag, type Query } from './params.ts';

const FEEDS = ['normal', 'longpoll', 'continuous', 'eventsource'] as const;
type Feed = (typeof FEEDS)[number];

const wire = (row: DbUpdateRow) => ({ db_name: row.dbName, type: row.type, seq: row.seq });

function parseSince(ctx: ServerContext, raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (raw === 'now') return ctx.node.dbUpdatesSeq;
  // An "N-opaque" sequence echoed back by a CouchDB client: its numeric prefix is ours. Clients
  // send a checkpointed string sequence JSON-encoded, quotes and all, as to _changes.
  const unquoted = raw.length > 1 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  const m = /^([0-9]{1,15})(-.*)?$/.exec(unquoted);
  if (!m) throw new RefugeError('bad_request', "Malformed sequence supplied in 'since' parameter.");
  return sinceHere(Number(m[1]), ctx.node.dbUpdatesSeq);
}

export function dbUpdatesRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/_db_updates', async (req: FastifyRequest, reply: FastifyReply) => {
    requireAdmin(req.user);
    const q = req.query as Query;
    const feed = (str(q, 'feed') ?? 'normal') as Feed;
    if (!FEEDS.includes(feed)) throw new RefugeError('bad_request', `Supported \`feed\` types: ${FEEDS.join(', ')}`);
    // An EventSource that reconnects names the last event it saw: the feed resumes after it.
    const lastEventId = feed === 'eventsource' ? req.headers['last-event-id'] : undefined;
    const since = parseSince(ctx, typeof lastEventId === 'string' ? lastEventId : str(q, 'since'));
    const limit = int(q, 'limit');
    // As CouchDB's parse_global_changes_query reads them: descending for the word `true` alone
    // (another is ignored), and `heartbeat=false` is no heartbeat.
    const descending = trueFlag(q, 'descending');
    const timeout = int(q, 'timeout');
    const heartbeat = str(q, 'heartbeat') === 'false' ? undefined : heartbeatParam(q);
    if (descending && feed !== 'normal') throw new RefugeError('bad_request', 'descending is only for feed=normal');

    if (feed === 'continuous' || feed === 'eventsource') {
      return streamFeed<DbUpdateRow>(ctx, req, reply, {
        sse: feed === 'eventsource',
        ...(heartbeat !== undefined && { heartbeat }),
        ...(timeout !== undefined && { timeout }),
        ...(limit !== undefined && { limit }),
        since,
        batches: (signal, batchSize) => ctx.node.subscribeDbUpdates({ since, batchSize, signal }),
        json: (row) => JSON.stringify(wire(row)),
        seqOf: (row) => row.seq,
      });
    }
    const first = await ctx.node.dbUpdates({ since, ...(limit !== undefined && { limit }), descending });
    if (feed === 'longpoll' && first.results.length === 0 && limit !== 0) {
      return streamLongpoll<DbUpdateRow>(ctx, req, reply, {
        ...(timeout !== undefined && { timeout }),
        ...(heartbeat !== undefined && { heartbeat }),
        since: first.lastSeq,
        live: (signal) => ctx.node.subscribeDbUpdates({ since: first.lastSeq, batchSize: limit ?? 1000, signal }),
        json: (row) => JSON.stringify(wire(row)),
        seqOf: (row) => row.seq,
      });
    }
    return { results: first.results.map(wire), last_seq: first.lastSeq };
  });
  // Any other method is CouchDB's 405, not a database named _db_updates that does not exist.
  app.route({
    method: ['POST', 'PUT', 'DELETE', 'PATCH'],
    url: '/_db_updates',
    handler: async () => {
      throw new RefugeError('method_not_allowed', 'Only GET,HEAD allowed');
    },
  });
}
