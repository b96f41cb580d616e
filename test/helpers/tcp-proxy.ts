// The plumbing under the tests' TCP proxies on loopback: each connection accepted is dialled on to
// 127.0.0.1:`port` and both sockets are tracked, so close() ends them all; what passes is the caller's.

import { createServer, Socket, type AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Destroys every socket still open, then stops listening. */
  close(): Promise<void>;
}

/**
 * Hands `wire` each connection's two sockets, with their errors ignored (these links are cut on
 * purpose): it forwards what it will, and decides whether a close on one side closes the other.
 */
export async function tcpProxy(port: number, wire: (client: Socket, upstream: Socket) => void): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    wire(client, upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
