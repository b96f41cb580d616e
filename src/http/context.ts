// What every route handler can reach: the node's databases, the admin check, server identity.

import type { FastifyRequest } from 'fastify';
import type { Database } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { ReplicationJobs } from '../jobs/index.ts';
import type { DbLease, RefugeNode } from '../node/index.ts';
import type { Auth } from './auth.ts';
import type { HttpStats } from './http-stats.ts';
import type { PeerAccess } from './peer-auth.ts';

export interface ServerContext {
  node: RefugeNode;
  auth: Auth;
  uuid: string;
  version: string;
  /** Long-lived responses (feeds) register here so shutdown can end them. */
  feeds: Set<AbortController>;
  /** Called when the last registered feed is done: shutdown waits for their closing lines. */
  onFeedsIdle?: () => void;
  /** Databases compacting at a `POST /{db}/_compact`, by name, for `_active_tasks`. */
  compactions: Map<string, Database>;
  /** Replication jobs (`/_replicate`, `_replicator`), when enabled. */
  jobs?: ReplicationJobs;
  /** What requests signed by mesh peers may do; without it such requests are refused. */
  peers?: PeerAccess;
  /** Request counters for `_node/{node}/_stats` and `_prometheus`. */
  stats: HttpStats;
  /** Where the server listens and what it accepts (`_node/{node}/_config`); port is set once listening. */
  settings: { host: string; port: number; bodyLimit: number; maxDocumentSize: number; blobLimit: number };
  /** Optional subsystems that later parts attach (blobs, ...). */
  extras: Record<string, unknown>;
}

export type DbRequest = FastifyRequest<{ Params: { db: string; [k: string]: string }; Querystring: Record<string, string> }>;

/**
 * The request's database, held until its response is over (a feed's included), then free to be
 * closed should the node need room (`maxOpenDbs`).
 */
export async function dbOf(ctx: ServerContext, req: { params: unknown; dbLeases?: DbLease[] | null }, name = (req.params as { db: string }).db): Promise<Database> {
  // Outside a request (no lease list) the database is held for good, as RefugeNode.db() does.
  if (!req.dbLeases) return ctx.node.db(name);
  const lease = await ctx.node.lease(name);
  req.dbLeases.push(lease);
  return lease.db;
}

/** Releases what a request held; its response has ended (sent, or cut off). */
export function releaseLeases(req: { dbLeases?: DbLease[] | null }): void {
  const leases = req.dbLeases;
  if (!leases) return;
  req.dbLeases = null;
  for (const lease of leases) lease.release();
}

/**
 * The absolute URL of `path` on this server as the client reached it (CouchDB's `Location`): the
 * proxy's X-Forwarded-Host and X-Forwarded-Proto when present, else the Host header.
 */
export function absoluteUrl(req: FastifyRequest, path: string): string {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' && v !== '' ? v.split(',')[0]!.trim() : undefined;
  };
  const proto = header('x-forwarded-proto') === 'https' ? 'https' : req.protocol;
  const host = header('x-forwarded-host') ?? header('host') ?? `${req.hostname}`;
  return `${proto}://${host}${path}`;
}

/** An AbortSignal that fires when the client goes away or the server shuts down. */
export function lifetimeSignal(ctx: ServerContext, req: FastifyRequest): { signal: AbortSignal; done: () => void } {
  const socket = req.raw.socket;
  // A client may leave while the handler still awaits (opening the database, checking access):
  // its socket has closed already and says so no more, so the feed is over before it starts.
  return feedLifetime(ctx, socket, ['close'], socket.destroyed);
}

/**
 * A feed's signal, fired by `events` of `emitter` (its client going away) or by the server shutting
 * down; `done` takes it off the server's feeds and, with the last one, lets a shutdown go on.
 */
export function feedLifetime(ctx: ServerContext, emitter: NodeJS.EventEmitter, events: readonly string[], ended = false): { signal: AbortSignal; done: () => void } {
  const ac = new AbortController();
  if (ended) ac.abort();
  ctx.feeds.add(ac);
  const onEnd = () => ac.abort();
  for (const e of events) emitter.once(e, onEnd);
  return {
    signal: ac.signal,
    done: () => {
      ctx.feeds.delete(ac);
      for (const e of events) emitter.off(e, onEnd);
      if (ctx.feeds.size === 0) ctx.onFeedsIdle?.();
    },
  };
}

/** CouchDB's validate_referer: the Referer's host (and port) must be the one the request was sent to. */
export function checkReferer(req: FastifyRequest): void {
  const referer = req.headers.referer;
  if (typeof referer !== 'string' || referer === '') throw new RefugeError('bad_request', 'Referer header required.');
  if (hostOf(referer) !== ownHost(req)) throw new RefugeError('bad_request', 'Referer header must match host.');
}

/**
 * A form (which a page on any site may send without asking) must come from this server's own
 * pages: browsers name the page's origin in `Origin` on every POST (`null` when hidden), else in
 * `Referer`. A request with neither is no browser's form (nano, curl), and is taken as it is.
 */
export function checkFormOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  const referer = req.headers.referer;
  const from = typeof origin === 'string' ? origin : typeof referer === 'string' && referer !== '' ? referer : undefined;
  if (from !== undefined && hostOf(from) !== ownHost(req)) throw new RefugeError('forbidden', 'A form is taken from this server\'s own pages only.');
}

// Either side unparsable (a Host header no URL can hold, `Origin: null`) is a mismatch, not a failure.
const hostOf = (url: string) => (URL.canParse(url) ? new URL(url).host : undefined);
const ownHost = (req: FastifyRequest) => hostOf(absoluteUrl(req, '/')) ?? '\u0000no host';
