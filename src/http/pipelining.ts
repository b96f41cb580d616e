// Requests pipelined on one connection run one after another. Node hands each to the server as it
// is parsed, so a GET sent right behind a PUT ran before the PUT's write and missed it; a server may
// only work on pipelined requests at once when all of them are safe (RFC 9112, 9.3.2).

import type { FastifyInstance } from 'fastify';

interface Connection {
  busy: boolean;
  /** Requests parsed while one was under way, in order. */
  waiting: Array<() => void>;
}

/** Per socket; no promise per request, so a connection that does not pipeline pays a listener only. */
const connections = new WeakMap<object, Connection>();

export function pipelineInOrder(app: FastifyInstance): void {
  app.addHook('onRequest', (req, reply, done) => {
    const socket = req.raw.socket;
    let c = connections.get(socket);
    if (c === undefined) connections.set(socket, (c = { busy: false, waiting: [] }));
    const conn = c;
    // A response emits 'close' once it is sent or cut off (a hijacked feed's when it ends).
    const start = () => {
      reply.raw.once('close', () => {
        const next = conn.waiting.shift();
        if (next) next();
        else conn.busy = false;
      });
      done();
    };
    if (!conn.busy) {
      conn.busy = true;
      start();
    } else conn.waiting.push(start);
  });
}
