// A slow, bufferbloated link for tests: a TCP proxy on loopback that takes whatever is sent at once
// and passes it on at a fixed rate each way, as an uplink with a deep queue does.

import { connect, createServer, type Socket } from 'node:net';

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
  const sockets = new Set<Socket>();
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
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(s);
      });
    }
    down = pipe(upstream, client, rate, check);
    const up = pipe(client, upstream, rate, () => undefined);
    pipes.add(down).add(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    backlog: () => down?.queued ?? 0,
    delivered: () => down?.delivered ?? 0,
    onBacklog: (bytes, fn) => {
      watchers.push({ bytes, fn });
      check();
    },
    close: async () => {
      for (const p of pipes) p.stop();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
