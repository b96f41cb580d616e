// A slow, bufferbloated link for tests: a TCP proxy on loopback that takes whatever is sent at once
// and passes it on at a fixed rate each way, as an uplink with a deep queue does.

import type { Socket } from 'node:net';
import { tcpProxy } from './tcp-proxy.ts';

export interface SlowLink {
  port: number;
  /** Bytes waiting in the queue towards the client that dialled the proxy. */
  backlog(): number;
  /** Bytes passed towards the client so far. */
  delivered(): number;
  /** Calls `fn` once the queue towards the client first holds at least `bytes`. */
  onBacklog(bytes: number, fn: () => void): void;
  close(): Promise<void>;
}

interface Pipe {
  queued: number;
  delivered: number;
  stop(): void;
}

/** Forwards `from` to `to` at `rate` bytes/s in 20 ms slices; `onData` sees each arrival. */
function pipe(from: Socket, to: Socket, rate: number, onData: () => void): Pipe {
  const queue: Buffer[] = [];
  const state: Pipe = { queued: 0, delivered: 0, stop: () => clearInterval(timer) };
  from.on('data', (b: Buffer) => {
    queue.push(b);
    state.queued += b.length;
    onData();
  });
  const slice = Math.max(1, Math.floor((rate * 20) / 1000));
  // The timer is the link's clock (its rate), not a wait for some other event.
  const timer = setInterval(() => {
    let budget = slice;
    while (budget > 0 && queue.length > 0) {
      const b = queue[0]!;
      const n = Math.min(b.length, budget);
      to.write(b.subarray(0, n));
      if (n === b.length) queue.shift();
      else queue[0] = b.subarray(n);
      budget -= n;
      state.queued -= n;
      state.delivered += n;
    }
  }, 20);
  return state;
}

/** A proxy to 127.0.0.1:`port` passing `rate` bytes/s each way (one connection at a time is enough here). */
export async function slowLink(port: number, rate: number): Promise<SlowLink> {
  const pipes = new Set<Pipe>();
  let down: Pipe | undefined;
  const watchers: Array<{ bytes: number; fn: () => void }> = [];
  const check = () => {
    for (const w of [...watchers]) {
      if ((down?.queued ?? 0) >= w.bytes) {
        watchers.splice(watchers.indexOf(w), 1);
        w.fn();
      }
    }
  };
  const proxy = await tcpProxy(port, (client, upstream) => {
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    down = pipe(upstream, client, rate, check);
    const up = pipe(client, upstream, rate, () => undefined);
    pipes.add(down).add(up);
  });
  return {
    port: proxy.port,
    backlog: () => down?.queued ?? 0,
    delivered: () => down?.delivered ?? 0,
    onBacklog: (bytes, fn) => {
      watchers.push({ bytes, fn });
      check();
    },
    close: async () => {
      for (const p of pipes) p.stop();
      await proxy.close();
    },
  };
}
