// A TCP proxy on loopback that hands on every write, both ways, in pieces of 1 to 3 bytes, each
// once the previous one left: what a poor link does to an HTTP exchange's framing and bodies.

import type { Socket } from 'node:net';
import { tcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.ts';

/** `seed` makes the cuts repeatable (a failure can be replayed). */
export async function fragmentingProxy(port: number, seed = 1): Promise<TcpProxy> {
  let state = seed >>> 0 || 1;
  const pieceLength = () => {
    // xorshift32: enough to vary the cuts, and the same ones on every run.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return 1 + ((state >>> 0) % 3);
  };
  const pipe = (from: Socket, to: Socket) => {
    const queue: Buffer[] = [];
    let busy = false;
    let ended = false;
    const pump = (): void => {
      const chunk = queue[0];
      if (!chunk) {
        busy = false;
        if (ended) to.end();
        return;
      }
      const n = Math.min(chunk.length, pieceLength());
      if (n === chunk.length) queue.shift();
      else queue[0] = chunk.subarray(n);
      if (to.destroyed) return;
      // The next piece on a later turn: the pieces leave as separate segments (no delay is set).
      to.write(chunk.subarray(0, n), () => setImmediate(pump));
    };
    from.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      if (!busy) {
        busy = true;
        pump();
      }
    });
    from.on('end', () => {
      ended = true;
      if (!busy) to.end();
    });
  };
  return tcpProxy(port, (client, upstream) => {
    for (const s of [client, upstream]) s.setNoDelay(true);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    pipe(client, upstream);
    pipe(upstream, client);
  });
}
