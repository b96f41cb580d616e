// How a WebSocket feed ends on an error: a close frame whose reason says why, held to the 123 bytes
// a close reason may have (ws throws past them, and the feed then ended as 1001 "server closing").

import type { WebSocket } from 'ws';

/** CloseEvent reasons are at most 123 bytes of UTF-8 (RFC 6455 5.5: a 125-byte payload less the code). */
const MAX_REASON_BYTES = 123;

/** `text` cut to at most 123 bytes of UTF-8, never inside a character. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= MAX_REASON_BYTES) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > MAX_REASON_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * Closes `socket` for `err`: 1008 (policy violation) for a request the feed will not serve, 1011
 * (internal error) for a feed that failed on its way.
 */
export function closeFor(socket: WebSocket, code: 1008 | 1011, err: unknown): void {
  if (socket.readyState !== socket.OPEN && socket.readyState !== socket.CONNECTING) return;
  socket.close(code, closeReason(String((err as Error)?.message ?? err)));
}
