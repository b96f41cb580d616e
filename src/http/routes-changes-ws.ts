// `GET /{db}/_changes?feed=websocket`: a database's changes over a WebSocket, one JSON text message
// per row, with every option of the continuous feed (since, filters, include_docs, style, limit).
// A row is sent only after the previous one left (back-pressure); `limit` ends the feed with
// `{"last_seq"}`; the database is held for as long as the socket is open.

import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { ChangeRow, ChangesOptions, Database } from '../documents/index.ts';
import type { DbLease } from '../node/index.ts';
import { feedLifetime, type ServerContext } from './context.ts';
import { feedAccess } from './user-access.ts';
import type { Query } from './params.ts';
import { closeFor } from './ws-close.ts';

/** Option parsing shared with the HTTP feeds (routes-changes.ts). */
export type ParseChanges = (db: Database, q: Query, body: unknown, user?: FastifyRequest['user']) => Promise<{ options: ChangesOptions }>;

export async function dbChangesSocket(ctx: ServerContext, socket: WebSocket, req: FastifyRequest, parse: ParseChanges): Promise<void> {
  // Ended by the client closing (or failing) or by the server shutting down, which waits for it.
  const feed = feedLifetime(ctx, socket, ['close', 'error']);
  let lease: DbLease | undefined;
  try {
    let options: ChangesOptions;
    try {
      lease = await ctx.node.lease((req.params as { db: string }).db);
      ({ options } = await parse(lease.db, req.query as Query, undefined, req.user));
      // The filter is checked as the HTTP feeds check it (a missing one, a bad selector) before a
      // row goes: failing in the feed, it closed as 1001 "server closing".
      if (options.filter !== undefined || options.selector !== undefined) await lease.db.changes({ ...options, limit: 0 });
    } catch (err) {
      // 1008: policy violation, the close code for a request the server will not serve.
      closeFor(socket, 1008, err);
      return;
    }
    const send = (obj: unknown) =>
      new Promise<void>((resolve) => (socket.readyState === socket.OPEN ? socket.send(JSON.stringify(obj), () => resolve()) : resolve()));
    const limit = options.limit ?? Infinity;
    let lastSeq = options.since ?? 0;
    let sent = 0;
    // A user's access is checked again before each batch (see feedAccess).
    const allowed = await feedAccess(ctx, req.user, lease.db.name);
    if (limit > 0) {
      const { limit: _l, descending: _d, ...subscribe } = options;
      try {
        for await (const batch of lease.db.subscribe({ ...subscribe, batchSize: Math.min(limit, 500), signal: feed.signal })) {
          if (allowed && !(await allowed())) {
            socket.close(1008, 'You are no longer allowed to access this db.');
            return;
          }
          for (const row of batch.slice(0, limit - sent) as ChangeRow[]) {
            await send(row);
            lastSeq = row.seq;
            sent++;
          }
          if (sent >= limit) break;
        }
      } catch (err) {
        // A feed that fails on its way (its filter function throws) says so: 1011, not "server closing".
        closeFor(socket, 1011, err);
        return;
      }
    }
    if (!feed.signal.aborted) {
      await send({ last_seq: lastSeq });
      // The feed ends for its limit, or because its database closed (deleted, the node stopping).
      if (socket.readyState === socket.OPEN) socket.close(1000, sent >= limit ? 'limit reached' : 'feed ended');
    }
  } finally {
    lease?.release();
    if (socket.readyState === socket.OPEN) socket.close(1001, 'server closing');
    feed.done();
  }
}
