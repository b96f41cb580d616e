// Requests pipelined on one connection run one after another. Node hands each to the server as it
// is parsed, so a GET sent right behind a PUT ran before the PUT's write and missed it; a server may
// only work on pipelined requests at once when all of them are safe (RFC 9112, 9.3.2).

import type { FastifyInstance } from 'fastify';

/** Per connection, the end of its latest request's response. */
const latest = new WeakMap<object, Promise<void>>();

export function pipelineInOrder(app: FastifyInstance): void {
  app.addHook('onRequest', (req, reply, done) => {
    const socket = req.raw.socket;
    const previous = latest.get(socket);
    // A response emits 'close' once it is sent or cut off (a hijacked feed's when it ends).
    const ended = new Promise<void>((resolve) => reply.raw.once('close', resolve));
    latest.set(socket, ended);
    void ended.then(() => {
      if (latest.get(socket) === ended) latest.delete(socket);
    });
    if (previous === undefined) done();
    else void previous.then(() => done());
  });
}
