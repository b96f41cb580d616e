// `GET /_blobs/_changes?feed=websocket`: the blob change feed over a WebSocket (@fastify/websocket),
// one JSON text message per change (or `{reset:true}`); `since` as for the other feeds.

import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { BlobChangeLog, type BlobChange } from './blob-log.ts';
import { feedLifetime, type ServerContext } from './context.ts';
import { str, type Query } from './params.ts';
import type { BlobHttp } from './routes-blobs.ts';
import { closeFor } from './ws-close.ts';

const wire = (c: BlobChange, log: BlobChangeLog) =>
  c.size === undefined ? { seq: log.format(c.seq), type: c.type, id: c.id } : { seq: log.format(c.seq), type: c.type, id: c.id, size: c.size };

/** Runs one WebSocket feed until the client or the server closes it; its abort controller is in ctx.feeds meanwhile. */
export async function blobChangesSocket(ctx: ServerContext, { log }: BlobHttp, socket: WebSocket, req: FastifyRequest): Promise<void> {
  // Ended by the client closing (or failing) or by the server shutting down, which waits for it.
  const feed = feedLifetime(ctx, socket, ['close', 'error']);
  try {
    let at: number | null;
    try {
      at = log.resolve(BlobChangeLog.parseSince(str(req.query as Query, 'since')));
    } catch (err) {
      closeFor(socket, 1008, err);
      return;
    }
    const send = (obj: unknown) =>
      new Promise<void>((resolve) => (socket.readyState === socket.OPEN ? socket.send(JSON.stringify(obj), () => resolve()) : resolve()));
    if (at === null) {
      at = log.lastSeq;
      await send({ reset: true, last_seq: log.format(at) });
    }
    while (!feed.signal.aborted) {
      const batch = log.after(at);
      if (batch.length === 0) {
        await log.wait(at, feed.signal);
        if (!feed.signal.aborted && log.resolve({ seq: at, epoch: log.epoch }) === null) {
          at = log.lastSeq;
          await send({ reset: true, last_seq: log.format(at) });
        }
        continue;
      }
      for (const c of batch) {
        await send(wire(c, log));
        at = c.seq;
      }
    }
  } finally {
    if (socket.readyState === socket.OPEN) socket.close(1001, 'server closing');
    feed.done();
  }
}
