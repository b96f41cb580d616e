// HTTP: the node's CouchDB-compatible API. `startServer` listens (port 0 picks a free port) and
// returns the URL and a `close` that ends feeds, stops listening and flushes the node.

import { isLoopbackHost } from './loopback.ts';
import { randomUuid } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { ReplicationJobs } from '../jobs/index.ts';
import type { RefugeNode } from '../node/index.ts';
import { DEFAULT_BLOB_LIMIT } from './routes-blobs.ts';
import { UserAccounts } from './user-accounts.ts';
import { docOwnerSpec } from './routes-replicate.ts';
import { buildApp, DEFAULT_BODY_LIMIT, DEFAULT_MAX_DOCUMENT_SIZE, type AppOptions } from './app.ts';
import { HttpStats } from './http-stats.ts';
import { Auth, parseAdmin, type AdminCredentials, type CookieSameSite } from './auth.ts';
import type { ServerContext } from './context.ts';
import type { PeerAccess } from './peer-auth.ts';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export { buildApp, DEFAULT_BODY_LIMIT } from './app.ts';
export { parseCorsOrigins, type CorsSettings } from './cors.ts';
export { parseAdmin, type AdminCredentials, type CookieSameSite } from './auth.ts';
export type { ServerContext } from './context.ts';
export type { BlobGcStatusWire } from './routes-gc.ts';
export { peerTarget, type PeerAccess, type PeerTarget } from './peer-auth.ts';

import { VERSION } from '../platform/version.ts';

export { VERSION };

export interface ServerOptions extends AppOptions {
  node: RefugeNode;
  host?: string;
  port?: number;
  admin?: AdminCredentials | string | null;
  /** The session cookie's SameSite (CouchDB's same_site): lax by default; none makes it Secure too. */
  cookieSameSite?: CookieSameSite;
  /** Lets mesh peers in with signed requests, under the node's grants (see peer-auth.ts). */
  peers?: PeerAccess;
  /** Run replication jobs (`/_replicate`, the `_replicator` database); default true. */
  replicator?: boolean;
  /** First wait before a crashing `_replicator` job is tried again, doubling each time (default 5 s). */
  replicatorRetryMs?: number;
  /** The most replications one user (not the admin) runs at once (default 20). */
  maxJobsPerUser?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  context: ServerContext;
  close(): Promise<void>;
}


/** How long shutdown waits for open feeds to send their closing lines. */
const FEED_END_MS = 3000;
/** How long a closing server lets requests under way finish before it cuts their sockets. */
const REQUEST_END_MS = 10_000;
/** How often a closing server looks for connections whose answer has ended since. */
const IDLE_SWEEP_MS = 50;

/**
 * The admin a server on `host` runs with, or null; throws when the two may not go together (no
 * listening beyond loopback without an admin). A command checks them with this before it opens
 * anything, so bad settings change nothing.
 */
export function listenAdmin(host: string, admin: string | AdminCredentials | null | undefined): AdminCredentials | null {
  if (host.trim() === '') throw new RefugeError('bad_request', 'the host to listen on must not be empty');
  const parsed = typeof admin === 'string' ? parseAdmin(admin) : (admin ?? null);
  if (!parsed && !isLoopbackHost(host)) {
    throw new RefugeError('forbidden', `refusing to listen on ${host} without an admin: configure one (--admin user:pass) or bind to 127.0.0.1`);
  }
  return parsed;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const admin = listenAdmin(host, options.admin);
  const ctx: ServerContext = {
    node: options.node,
    auth: new Auth(admin, new UserAccounts(options.node), options.node.key.secretKey, options.cookieSameSite),
    uuid: randomUuid(),
    version: VERSION,
    feeds: new Set(),
    compactions: new Map(),
    stats: new HttpStats(),
    settings: {
      host,
      port: options.port ?? 6986,
      bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
      maxDocumentSize: options.maxDocumentSize ?? DEFAULT_MAX_DOCUMENT_SIZE,
      blobLimit: options.blobLimit ?? DEFAULT_BLOB_LIMIT,
    },
    extras: {},
    ...(options.peers && { peers: options.peers }),
  };
  if (options.replicator !== false) {
    ctx.jobs = new ReplicationJobs(options.node, {
      ...(options.replicatorRetryMs !== undefined && { retryBaseMs: options.replicatorRetryMs }),
      ...(options.maxJobsPerUser !== undefined && { maxJobsPerUser: options.maxJobsPerUser }),
      ownerSpec: docOwnerSpec(ctx),
    });
    await ctx.jobs.start();
  }
  const app = buildApp(ctx, options);
  // Connections that have not sent a whole request yet (a browser opens some ahead of time) are not
  // idle to Node, and were waited for until REQUEST_END_MS at close: they are cut at once.
  const unasked = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    unasked.add(socket);
    socket.once('close', () => unasked.delete(socket));
  });
  app.server.on('request', (req: IncomingMessage) => unasked.delete(req.socket));
  try {
    await app.listen({ host, port: options.port ?? 6986 });
  } catch (err) {
    await ctx.jobs?.stop();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 6986);
  ctx.settings.port = port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    context: ctx,
    close: () =>
      (closing ??= (async () => {
        // Feeds end with their closing lines (`last_seq`, a longpoll's whole answer) before the
        // sockets are cut; a feed that cannot finish is not waited for beyond FEED_END_MS.
        const idle = ctx.feeds.size === 0 ? undefined : new Promise<void>((resolve) => (ctx.onFeedsIdle = resolve));
        for (const feed of ctx.feeds) feed.abort();
        let timer: ReturnType<typeof setTimeout> | undefined;
        if (idle) await Promise.race([idle, new Promise((resolve) => (timer = setTimeout(resolve, FEED_END_MS)))]);
        clearTimeout(timer);
        await ctx.jobs?.stop();
        // Requests under way are answered before their sockets close, within REQUEST_END_MS; a
        // client that keeps one open longer (a stalled upload) is cut then.
        const closed = app.close();
        for (const socket of unasked) socket.destroy();
        // Node closes the connections idle when close begins; one whose answer ends later (a long
        // streamed listing) would stay open, keep-alive, until REQUEST_END_MS: it is closed soon after.
        const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
        let limit: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([closed, new Promise((resolve) => (limit = setTimeout(resolve, REQUEST_END_MS)))]);
        clearTimeout(limit);
        clearInterval(sweep);
        app.server.closeAllConnections();
        await closed;
      })()),
  };
}
