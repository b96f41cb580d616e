// Blob maintenance over HTTP: `POST /_blobs/_gc` (mark and sweep, `dry_run`, `grace` in seconds),
// `POST /_blobs/_scrub` (verify every blob), and the pin list `GET/PUT/DELETE /_pins[/{root}]`.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { checkPin } from '../gc/index.ts';
import type { ServerContext } from './context.ts';
import { objectBody } from './params.ts';

type RootReq = FastifyRequest<{ Params: { root: string } }>;

export function gcRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/_blobs/_gc', async (req) => {
    const body = req.body === undefined ? {} : objectBody(req.body);
    const grace = body.grace === undefined ? undefined : Number(body.grace);
    if (grace !== undefined && (!Number.isFinite(grace) || grace < 0)) throw new RefugeError('bad_request', '`grace` is a number of seconds >= 0');
    return ctx.node.collectBlobGarbage({
      ...(grace !== undefined && { graceMs: grace * 1000 }),
      dryRun: body.dry_run === true,
      allowMissing: body.force === true,
    });
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
