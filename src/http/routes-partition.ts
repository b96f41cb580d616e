// `/{db}/_partition/...`: CouchDB's partitioned-database endpoints. No database is partitioned
// here, so each answers as CouchDB answers them on a database that is not (chttpd_db's
// handle_partition_req), once the database is known to exist.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { dbOf, type ServerContext } from './context.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'COPY'];

export function partitionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const methods = METHODS.filter((m) => app.supportedMethods.includes(m));
  const refuse = (why: (req: FastifyRequest) => RefugeError) => async (req: FastifyRequest) => {
    await dbOf(ctx, req);
    throw why(req);
  };
  // No partition named: CouchDB's bad_request with the bare atom for its reason.
  app.route({ method: methods, url: '/:db/_partition', handler: refuse(() => new RefugeError('bad_request', 'invalid_partition_req')) });
  // A partition's info: GET only.
  app.route({
    method: methods,
    url: '/:db/_partition/:partition',
    handler: refuse((req) =>
      req.method === 'GET' || req.method === 'HEAD' ? new RefugeError('bad_request', 'database is not partitioned') : new RefugeError('method_not_allowed', 'Only GET allowed'),
    ),
  });
  // Anything under a partition (_all_docs, _find, _explain, _design/...): the database's answer.
  app.route({ method: methods, url: '/:db/_partition/:partition/*', handler: refuse(() => new RefugeError('bad_request', 'database is not partitioned')) });
}
