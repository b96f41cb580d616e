// The mesh over HTTP: `POST /_mesh/_find` (a flooded query, answered as one JSON body once it ends),
// `GET /_mesh/peers` (trusted peers, up or down) and `GET /_mesh/_events` (peer up/down as SSE).

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
// Types only: libp2p is loaded by `refuge start` when the mesh is on, never by the HTTP layer itself.
import type { MeshNode, PeerEvent, Question } from '../mesh/index.ts';
import { requireAdmin } from './auth.ts';
import { lifetimeSignal, type ServerContext } from './context.ts';
import { beatUnlessFull } from './feed-stream.ts';
import { objectBody } from './params.ts';

/** Where `startServer`'s caller puts the running MeshNode. */
export const MESH_EXTRA = 'mesh';
const HEARTBEAT_MS = 30_000;

function meshOf(ctx: ServerContext): MeshNode {
  const mesh = ctx.extras[MESH_EXTRA] as MeshNode | undefined;
  if (!mesh) throw new RefugeError('unavailable', 'this node is not on the mesh (start it with --mesh on)');
  return mesh;
}

/** What a flooded query takes: a member it would ignore (Mango's `fields`, `sort`, `skip`) is refused. */
const FIND_MEMBERS = new Set(['selector', 'db', 'blob', 'ttl', 'limit', 'timeout_ms']);

/** `{selector, db?}` asks for documents, `{blob}` for the nodes holding a blob. */
function questionOf(body: Record<string, unknown>): Question {
  const unknown = Object.keys(body).filter((k) => !FIND_MEMBERS.has(k));
  if (unknown.length > 0) {
    throw new RefugeError('bad_request', `a flooded query takes ${[...FIND_MEMBERS].join(', ')}; not ${unknown.join(', ')}`);
  }
  if (body.blob !== undefined) return { kind: 'blob', blob: body.blob as never };
  if (body.selector === undefined) throw new RefugeError('bad_request', 'give a selector (or a blob id)');
  return { kind: 'find', selector: body.selector as Record<string, unknown>, db: (body.db as string | undefined) ?? '*' };
}

function optionalInt(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v)) throw new RefugeError('bad_request', `${key} must be an integer`);
  return v as number;
}

/** Why an empty answer may be empty: nobody was asked, or nobody answered in time. */
function noResultsWarning(neighbours: number, timeoutMs: number): string {
  if (neighbours === 0) return 'no trusted peer is connected: the query reached nobody';
  return `nothing came back within ${timeoutMs} ms from the ${neighbours} connected trusted peer${neighbours === 1 ? '' : 's'} or beyond: they hold nothing this node may read, or a slow link needs a longer timeout_ms`;
}

export function meshRoutes(app: FastifyInstance, ctx: ServerContext): void {
  /**
   * Waits until the query's time limit (`timeout_ms`, default 3000) or its result `limit`, then
   * answers `{results:[{peer, db, docs} | {peer, blob}], neighbours}` (how many connected peers it
   * went to), with a `warning` when nothing came back. One JSON body, not a stream: CouchDB clients
   * expect `_find` to answer once, and a query's end is its deadline anyway.
   */
  app.post('/_mesh/_find', async (req) => {
    requireAdmin(req.user);
    const mesh = meshOf(ctx);
    const body = objectBody(req.body);
    const ttl = optionalInt(body, 'ttl');
    const limit = optionalInt(body, 'limit');
    const timeoutMs = optionalInt(body, 'timeout_ms');
    const { signal, done } = lifetimeSignal(ctx, req);
    try {
      const stream = mesh.queries.ask(questionOf(body), {
        ...(ttl !== undefined && { ttl }),
        ...(limit !== undefined && { limit }),
        ...(timeoutMs !== undefined && { timeoutMs }),
        signal,
      });
      const results = await stream.all();
      const { neighbours } = stream;
      if (results.length > 0) return { results, neighbours };
      return { results, neighbours, warning: noResultsWarning(neighbours, stream.timeoutMs) };
    } finally {
      done();
    }
  });

  app.get('/_mesh/peers', async (req) => {
    requireAdmin(req.user);
    const mesh = meshOf(ctx);
    const state = await mesh.trust.current();
    const up = new Set(mesh.upPeers().map((p) => p.peerId));
    const peers = Object.values(state.peers).map((p) => ({ ...p, up: up.has(p.id) }));
    return { peer_id: mesh.peerId, addresses: mesh.addresses(), peers, connected: mesh.connectedPeers() };
  });

  app.get('/_mesh/_events', async (req, reply) => {
    requireAdmin(req.user);
    const mesh = meshOf(ctx);
    await peerEvents(ctx, mesh, req, reply);
  });

  // Anything else under /_mesh is the mesh's, not a database's: a 405 naming the methods a known
  // path takes, a plain 404 for an unknown one (never "Database does not exist").
  const methods: Record<string, string> = { '/_mesh/_find': 'POST', '/_mesh/peers': 'GET,HEAD', '/_mesh/_events': 'GET,HEAD' };
  app.all('/_mesh/*', async (req) => {
    requireAdmin(req.user);
    const allowed = methods[req.url.split('?', 1)[0]!];
    if (allowed === undefined) throw new RefugeError('not_found', 'missing');
    throw new RefugeError('method_not_allowed', `Only ${allowed} allowed`);
  });
}

/** SSE: first the peers up now (`event: peers`), then `peer:up` / `peer:down` as they happen. */
async function peerEvents(ctx: ServerContext, mesh: MeshNode, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { signal, done } = lifetimeSignal(ctx, req);
  reply.hijack();
  reply.raw.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'Transfer-Encoding': 'chunked' });
  const send = (event: string, data: unknown) => {
    if (!reply.raw.destroyed) reply.raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  send('peers', mesh.upPeers());
  const offUp = mesh.on('peer:up', (e: PeerEvent) => send('peer:up', e));
  const offDown = mesh.on('peer:down', (e: PeerEvent) => send('peer:down', e));
  const beat = setInterval(() => !reply.raw.destroyed && beatUnlessFull(reply, ': heartbeat\n\n'), HEARTBEAT_MS);
  try {
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    // The listeners go with the client: a node serving many dashboards over days must not accumulate them.
    offUp();
    offDown();
    clearInterval(beat);
    done();
    if (!reply.raw.destroyed) reply.raw.end();
  }
}
