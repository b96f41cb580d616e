// A minimum upload rate for request bodies (as Apache's mod_reqtimeout `body=20,MinRate=500`): a
// client trickling a body holds a connection and up to the body limit of memory; past its deadline
// it gets a 408 and the connection is cut. The deadline starts at `graceMs` and moves on by one
// second for every `minBytesPerSecond` bytes received, so a slow but honest upload of any size passes.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { RefugeError } from '../errors/index.ts';

export interface BodyRateOptions {
  /** Time a body may take before the rate counts (default 20 s). */
  graceMs?: number;
  /** Bytes per second a body must keep up on average past the grace (default 500). */
  minBytesPerSecond?: number;
}

export const DEFAULT_BODY_GRACE_MS = 20_000;
export const DEFAULT_MIN_BODY_RATE = 500;

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

const TOO_SLOW = 'the request body arrived too slowly';

/** How often a body's progress is looked at (at most; less when the grace is shorter). */
const TICK_MS = 1000;

export function enforceBodyRate(server: Server, options: BodyRateOptions = {}): void {
  const grace = options.graceMs ?? DEFAULT_BODY_GRACE_MS;
  const rate = options.minBytesPerSecond ?? DEFAULT_MIN_BODY_RATE;
  const tick = Math.min(TICK_MS, grace);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.complete || !hasBody(req)) return;
    const socket = req.socket;
    // Bytes are counted on the socket, not by reading the body: a reader here would take the
    // body from the handler. Whatever came with the headers counts as received already.
    let startBytes = socket.bytesRead;
    let start = Date.now();
    // Until the body is in or the connection gone: an answer sent before the body was read
    // (a 401, a route that ignores it) leaves Node reading the rest, at the client's pace.
    const timer = setInterval(() => {
      if (req.complete || socket.destroyed) return stop();
      // While the server holds the body back (a pipelined request waiting its turn, a handler
      // still deciding, a write that cannot keep up), the client is not the slow one: the window
      // starts again. Data it has sent then waits unread in the request's buffer, or the socket
      // is paused; a slow client leaves that buffer short of full.
      if (socket.isPaused() || req.readableLength >= req.readableHighWaterMark) {
        startBytes = socket.bytesRead;
        start = Date.now();
        return;
      }
      if (Date.now() < start + grace + ((socket.bytesRead - startBytes) * 1000) / rate) return;
      stop();
      if (!res.headersSent) {
        const body = JSON.stringify({ error: 'request_timeout', reason: TOO_SLOW });
        res.writeHead(408, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
        res.end(body);
      }
      // The body's stream fails too: a handler still reading it (an upload) stops with an error.
      // Node no longer tracks a request whose answer is sent, and would leave its reader waiting
      // for ever once the socket is gone (and the database's close waiting on that write).
      req.destroy(new RefugeError('request_timeout', TOO_SLOW));
      socket.destroy();
    }, tick);
    timer.unref();
    const stop = () => {
      clearInterval(timer);
      socket.removeListener('close', stop);
      req.removeListener('end', stop);
    };
    socket.once('close', stop);
    req.once('end', stop);
  });
}
