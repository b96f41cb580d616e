// libp2p 3 expects two globals Node 20 lacks: Promise.withResolvers and WebSocket. Imported first,
// as `#mesh/node20-shim`, by the mesh modules that load libp2p, and by nothing else; a no-op on
// Node 22+. Browsers get node20-shim-none.ts.

import { WebSocket as WsWebSocket } from 'ws';

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const P = Promise as PromiseConstructor & { withResolvers?: <T>() => Resolvers<T> };
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve'];
      let reject!: Resolvers<T>['reject'];
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

const g = globalThis as { WebSocket?: unknown };
// The websockets transport dials with `new WebSocket(url)`; ws is API-compatible for that use.
if (g.WebSocket === undefined) g.WebSocket = WsWebSocket;
