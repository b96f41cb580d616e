// Node's default HTTP transport for the replicator: undici's `request` over one keep-alive pool.
// It skips fetch's WHATWG layers (Request/Response objects, web streams): reading a 100k-doc
// changes feed in 500-row pages took about a third less CPU than through fetch.
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { HttpTransport } from './http-transport.ts';

type Undici = typeof import('undici');

// Loaded and created on first use: a process that never replicates over HTTP neither loads undici
// nor opens a pool.
let undici: Promise<{ request: Undici['request']; pool: Dispatcher }> | undefined;

function load(): Promise<{ request: Undici['request']; pool: Dispatcher }> {
  undici ??= import('undici').then(({ Agent, interceptors, request }) => ({
    request,
    // As fetch does, a redirect is followed rather than answered (a CouchDB moved behind a proxy);
    // credentials are not carried to another origin. undici's own header and body timeouts (300 s)
    // are off: the client's timer counts silence as the caller asked (a long-poll's wait, a slow
    // upload's time), which may be longer.
    pool: new Agent({ keepAliveTimeout: 10_000, headersTimeout: 0, bodyTimeout: 0 }).compose(interceptors.redirect({ maxRedirections: 20 })),
  }));
  return undici;
}

export const defaultTransport: HttpTransport = async (req) => {
  const { request, pool } = await load();
  const res = await request(req.url, {
    method: req.method as Dispatcher.HttpMethod,
    headers: req.headers,
    body: req.body === undefined || typeof req.body === 'string' ? req.body : Readable.from(req.body.chunks, { objectMode: false }),
    signal: req.signal,
    dispatcher: pool,
  });
  const body = res.body;
  return {
    status: res.statusCode,
    chunks: body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>,
    cancel: () => void body.destroy(),
  };
};
