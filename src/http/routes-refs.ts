// `/_refs`: the node's signed refs over HTTP — list, read (with history), store a ref signed by any
// key (verified; a name stays bound to its first owner; replays refused), and `_update`, where the
// node signs the next value with its own key. `GET /_refs/_key` gives the node's public key.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { checkRefName, ownerOf, updateRef, type RefMeta } from '../refs/index.ts';
import { toBlobId } from '../blobs/id.ts';
import type { ServerContext } from './context.ts';
import { bool, objectBody, type Query } from './params.ts';

type WildReq = FastifyRequest<{ Params: { '*': string } }>;

/** Only flat string/number/boolean notes are kept with a value. */
function metaOf(value: unknown): RefMeta | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RefugeError('bad_request', '`meta` must be an object');
  const out: RefMeta = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new RefugeError('bad_request', `meta.${k} must be a string, number or boolean`);
    out[k] = v;
  }
  return out;
}

export function refRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const refs = () => ctx.node.refs;

  app.get('/_refs', async () => {
    const names = await refs().list();
    const out = [];
    for (const name of names) out.push({ name, ref: await refs().get(name) });
    return { refs: out };
  });

  app.get('/_refs/_key', async () => ({ owner: ownerOf(ctx.node.key.publicKey), type: 'ed25519' }));

  app.get('/_refs/*', async (req: WildReq) => {
    const name = checkRefName(req.params['*']);
    if (bool(req.query as Query, 'history')) {
      const history = await refs().history(name);
      if (history.length === 0) throw new RefugeError('not_found', `ref ${name} not found`);
      return { name, history };
    }
    const ref = await refs().get(name);
    if (!ref) throw new RefugeError('not_found', `ref ${name} not found`);
    return ref;
  });

  app.put('/_refs/*', async (req: WildReq, reply) => {
    const name = checkRefName(req.params['*']);
    const body = objectBody(req.body);
    // Either the bare signed ref, or {ref, meta}: a `ref` that is no object is refused (null was a 500).
    if (body.ref !== undefined && (body.ref === null || typeof body.ref !== 'object' || Array.isArray(body.ref))) {
      throw new RefugeError('bad_request', '`ref` must be a signed ref (an object)');
    }
    const ref = body.ref !== undefined ? body.ref : body;
    if ((ref as { name?: unknown }).name !== name) throw new RefugeError('bad_request', `the ref's name does not match the URL (${name})`);
    await refs().put(ref as never, metaOf(body.ref !== undefined ? body.meta : undefined));
    reply.code(201);
    return { ok: true, name, seq: (ref as { seq: number }).seq };
  });

  app.post('/_refs/*', async (req: WildReq, reply) => {
    const path = req.params['*'];
    if (!path.endsWith('/_update')) throw new RefugeError('method_not_allowed', 'POST is only allowed on /_refs/{name}/_update');
    const name = checkRefName(path.slice(0, -'/_update'.length));
    const body = objectBody(req.body);
    if (typeof body.root !== 'string') throw new RefugeError('bad_request', '`root` must be a CID or a sha256- blob id');
    toBlobId(body.root);
    const ref = await updateRef(refs(), ctx.node.key, name, body.root, metaOf(body.meta));
    reply.code(201);
    return ref;
  });
}
