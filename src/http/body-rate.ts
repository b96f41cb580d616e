// A minimum upload rate for request bodies (as Apache's mod_reqtimeout `body=20,MinRate=500`): a
// client trickling a body holds a connection and up to the body limit of memory; past its deadline
// it gets a 408 and the connection is cut. The deadline starts at `graceMs` and moves on by one
// second for every `minBytesPerSecond` bytes received, so a slow but honest upload of any size passes.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';

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

export function enforceBodyRate(server: Server, options: BodyRateOptions = {}): void {
  const grace = options.graceMs ?? DEFAULT_BODY_GRACE_MS;
  const rate = options.minBytesPerSecond ?? DEFAULT_MIN_BODY_RATE;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.complete || !hasBody(req)) return;
    const socket = req.socket;
    // Bytes are counted on the socket, not by reading the body: a reader here would take the
    // body from the handler. Whatever came with the headers counts as received already.
    let startBytes = socket.bytesRead;
    let start = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => clearTimeout(timer);
    const check = () => {
      if (req.complete || socket.destroyed) return;
      // While the server is not reading the body (a pipelined request waiting its turn, a handler
      // still deciding, a write holding back a stream), the client is not the slow one: the
      // window starts again.
      if (req.readableFlowing !== true) {
        startBytes = socket.bytesRead;
        start = Date.now();
        timer = setTimeout(check, grace);
        return;
      }
      const deadline = start + grace + ((socket.bytesRead - startBytes) * 1000) / rate;
      const now = Date.now();
      if (now < deadline) {
        timer = setTimeout(check, deadline - now);
        return;
      }
      if (!res.headersSent) {
        const body = JSON.stringify({ error: 'request_timeout', reason: 'the request body arrived too slowly' });
        res.writeHead(408, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
        res.end(body);
      }
      socket.destroy();
    };
    timer = setTimeout(check, grace);
    req.once('end', stop);
    req.once('close', stop);
    res.once('close', stop);
  });
}
