// `POST /_replicate`: one-shot (answers with the report when done), continuous (answers at once),
// and `cancel`. Persistent jobs live as documents in the `_replicator` database.

import type { FastifyInstance } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { checkEndpoint, parseSpec } from '../jobs/index.ts';
import type { ServerContext } from './context.ts';
import { objectBody } from './params.ts';

export function replicateRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/_replicate', async (req, reply) => {
    const jobs = ctx.jobs;
    if (!jobs) throw new RefugeError('not_implemented', 'replication jobs are disabled on this node');
    const body = objectBody(req.body);
    if (body.cancel === true) {
      const id = typeof body.replication_id === 'string' ? body.replication_id : undefined;
      const found = jobs.cancel(
        id !== undefined ? { id } : { source: checkEndpoint(body.source, 'source'), target: checkEndpoint(body.target, 'target') },
      );
      if (!found) throw new RefugeError('not_found', 'replication job not found');
      return { ok: true, _local_id: id };
    }
    const result = await jobs.replicate(parseSpec(body));
    if (result.continuous) {
      reply.code(202);
      return { ok: true, _local_id: result.id };
    }
    const r = result.report;
    return {
      ok: r.ok,
      session_id: r.sessionId,
      source_last_seq: r.lastSeq,
      replication_id_version: 4,
      docs_read: r.docsRead,
      docs_written: r.docsWritten,
      doc_write_failures: r.docWriteFailures,
      history: r.history,
    };
  });
}
