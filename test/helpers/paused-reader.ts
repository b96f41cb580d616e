// Test helper: a raw HTTP client that sends a GET (or a POST), reads the first bytes of the answer and stops
// reading, as a slow or departing client does; the server's side keeps the rest waiting.

import { connect, type Socket } from 'node:net';

/**
 * Connects, sends `GET url` (with `headers`; a POST of `body` as JSON when given), and resolves once
 * more than `bytes` came, the socket paused (resume() reads on).
 */
export async function pausedAfter(url: URL, bytes: number, headers: Record<string, string> = {}, body?: unknown): Promise<Socket> {
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const payload = body === undefined ? '' : JSON.stringify(body);
  const all = body === undefined ? headers : { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) };
  const extra = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`${body === undefined ? 'GET' : 'POST'} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n${extra}\r\n${payload}`);
  let received = 0;
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received <= bytes) return;
      // Paused once: a caller that resumes reads the rest.
      socket.pause();
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  });
  return socket;
}
