// Blob maintenance over HTTP: `POST /_blobs/_gc` (mark and sweep, `dry_run`, `grace` in seconds),
// `GET /_blobs/_gc` (the node's own gc: what it has still to look at, when, what it last did),
// holds on it `GET/POST /_blobs/_holds`, `PUT/DELETE /_blobs/_holds/{hold}` (`ttl` in seconds),
// `POST /_blobs/_scrub` (verify every blob), and the pin list `GET/PUT/DELETE /_pins[/{root}]`.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { checkPin, type GcHold } from '../gc/index.ts';
import type { AutoBlobGcStatus } from '../node/index.ts';
import type { ServerContext } from './context.ts';
import { objectBody } from './params.ts';

/** `GET /_blobs/_gc`'s answer (the CLI's `blobs gc --status` reads it): `{auto: false}` when the node's own gc is off. */
export interface BlobGcStatusWire {
  auto: boolean;
  candidates?: number;
  due_at?: string | null;
  held?: boolean;
  running?: boolean;
  last?: { at: string; deleted: number; deleted_bytes: number; young: number; missing: number } | null;
  failed?: { at: string; reason: string } | null;
}

function blobGcStatusWire(status: AutoBlobGcStatus | undefined): BlobGcStatusWire {
  if (!status) return { auto: false };
  const iso = (ms: number) => new Date(ms).toISOString();
  const { last, failed } = status;
  return {
    auto: true,
    candidates: status.candidates,
    due_at: status.dueAt === undefined ? null : iso(status.dueAt),
    held: status.held,
    running: status.running,
    last:
      last === undefined
        ? null
        : { at: iso(last.at), deleted: last.report.deleted.length, deleted_bytes: last.report.deletedBytes, young: last.report.young, missing: last.report.missing.length },
    failed: failed === undefined ? null : { at: iso(failed.at), reason: failed.reason },
  };
}

type RootReq = FastifyRequest<{ Params: { root: string } }>;
type HoldReq = FastifyRequest<{ Params: { hold: string } }>;

const holdWire = (h: GcHold) => ({ hold: h.id, expires_at: new Date(h.expiresAt).toISOString() });

/** A hold's `ttl` (seconds) in ms, or undefined for the default; the holds check its range. */
function ttlOf(body: unknown): number | undefined {
  const ttl = (body === undefined ? {} : objectBody(body)).ttl;
  if (ttl === undefined) return undefined;
  if (typeof ttl !== 'number') throw new RefugeError('bad_request', '`ttl` is a number of seconds');
  return ttl * 1000;
}

export function gcRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/_blobs/_gc', async (req) => {
    const body = req.body === undefined ? {} : objectBody(req.body);
    const grace = body.grace === undefined ? undefined : Number(body.grace);
    if (grace !== undefined && (!Number.isFinite(grace) || grace < 0)) throw new RefugeError('bad_request', '`grace` is a number of seconds >= 0');
    // A word that is no boolean (`"true"`, 1) must not be taken for false: that would delete for real.
    for (const flag of ['dry_run', 'force'] as const) {
      if (body[flag] !== undefined && typeof body[flag] !== 'boolean') throw new RefugeError('bad_request', `\`${flag}\` must be true or false`);
    }
    return ctx.node.collectBlobGarbage({
      ...(grace !== undefined && { graceMs: grace * 1000 }),
      dryRun: body.dry_run === true,
      allowMissing: body.force === true,
    });
  });

  app.get('/_blobs/_gc', async (): Promise<BlobGcStatusWire> => blobGcStatusWire(ctx.node.blobGcStatus()));

  // A writer that names its blobs only once all are stored (a snapshot, before its ref) holds gc off
  // meanwhile, renewing its hold before it expires (gc/holds.ts).
  app.get('/_blobs/_holds', async () => ({ holds: ctx.node.gcHolds.list().map(holdWire) }));
  app.post('/_blobs/_holds', async (req, reply) => {
    reply.code(201);
    return { ok: true, ...holdWire(ctx.node.gcHolds.open(ttlOf(req.body))) };
  });
  app.put('/_blobs/_holds/:hold', async (req: HoldReq) => ({ ok: true, ...holdWire(ctx.node.gcHolds.renew(req.params.hold, ttlOf(req.body))) }));
  app.delete('/_blobs/_holds/:hold', async (req: HoldReq) => {
    if (!ctx.node.gcHolds.release(req.params.hold)) throw new RefugeError('not_found', `no hold ${req.params.hold} (released, or expired)`);
    return { ok: true, hold: req.params.hold };
  });

  app.post('/_blobs/_scrub', async () => ctx.node.blobs.scrub());

  app.get('/_pins', async () => ({ pins: await ctx.node.pins.list() }));
  app.put('/_pins/:root', async (req: RootReq, reply) => {
    const created = await ctx.node.pins.add(checkPin(req.params.root));
    reply.code(created ? 201 : 200);
    return { ok: true, root: req.params.root, created };
  });
  app.delete('/_pins/:root', async (req: RootReq) => {
    if (!(await ctx.node.pins.remove(checkPin(req.params.root)))) throw new RefugeError('not_found', `${req.params.root} is not pinned`);
    return { ok: true, root: req.params.root };
  });
}
