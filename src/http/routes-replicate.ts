// `POST /_replicate`: one-shot (answers with the report when done), continuous (answers at once),
// and `cancel`. Persistent jobs live as documents in the `_replicator` database.

import type { FastifyInstance } from 'fastify';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { UserCtx } from '../documents/index.ts';
import { describeEndpoint, parseSpec, type JobSpec } from '../jobs/index.ts';
import type { ServerContext } from './context.ts';
import { objectBody } from './params.ts';
import { mayUseDb } from './user-access.ts';

/**
 * A user may replicate between databases they use (or remote ones), never a system database
 * (`_users`, `_replicator`: their own rules hold for direct writes only), never create one. The job
 * then checks again before each of its calls that the account is the same (not deleted, password
 * unchanged) and may still use the database, with the roles it has now.
 */
async function userJob(ctx: ServerContext, user: UserCtx, spec: JobSpec): Promise<JobSpec> {
  // A remote target is created there, with the credentials given for it, whose server judges them
  // (CouchDB's couch_replicator_api_wrap:db_open); a database here is only the admin's to create.
  const targetUrl = typeof spec.target === 'string' ? spec.target : spec.target.url;
  if (spec.createTarget && !/^https?:\/\//i.test(targetUrl)) {
    throw new RefugeError('unauthorized', 'You are not a server admin: only an admin creates databases (create_target).');
  }
  const accounts = ctx.auth.users;
  const start = accounts && user.name !== null ? await accounts.account(user.name) : undefined;
  if (!accounts || !start) throw new RefugeError('unauthorized', 'You are not a server admin.');
  const asOwner = async (db: string): Promise<UserCtx> => {
    const now = await accounts.account(user.name!);
    if (!now || now.salt !== start.salt) throw new RefugeError('unauthorized', `the account of ${user.name} was deleted or its password changed: its replication stops`);
    if (db.startsWith('_') || !(await mayUseDb(ctx, now.ctx, db))) throw new RefugeError('forbidden', `You are not allowed to access this db: ${db}`);
    return now.ctx;
  };
  for (const end of [spec.source, spec.target]) {
    const url = typeof end === 'string' ? end : end.url;
    if (/^https?:\/\//i.test(url) || (!url.startsWith('_') && !(await ctx.node.exists(url)))) continue;
    await asOwner(url);
  }
  return { ...spec, owner: user, asOwner };
}

/**
 * A `_replicator` document's job, run as its `owner`: the server admin's as it is, a user's as
 * their own `POST /_replicate` would run (their databases, checked before each call). A document
 * naming someone without an account here does not run.
 */
export function docOwnerSpec(ctx: ServerContext): (owner: string, spec: JobSpec) => Promise<JobSpec> {
  return async (owner, spec) => {
    if (!ctx.auth.enabled || owner === ctx.auth.admin?.name) return spec;
    const account = await ctx.auth.users?.account(owner);
    if (!account) throw new RefugeError('unauthorized', `${owner}, the owner of this replication document, has no account here`);
    return userJob(ctx, account.ctx, spec);
  };
}

export function replicateRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'DELETE'],
    url: '/_replicate',
    handler: async () => {
      throw new RefugeError('method_not_allowed', 'Only POST allowed');
    },
  });
  app.post('/_replicate', async (req, reply) => {
    const jobs = ctx.jobs;
    if (!jobs) throw new RefugeError('not_implemented', 'replication jobs are disabled on this node');
    const body = objectBody(req.body);
    // A user's replication runs as them (CouchDB's user_ctx): their databases only, their writes
    // judged as theirs, and a job only they cancel.
    const user = req.user.roles.includes('_admin') ? undefined : req.user;
    if (body.cancel === true) {
      // The job's id under any of CouchDB's three names for it (couch_replicator_parse:convert_options):
      // a client cancels with the `_local_id` the start answered.
      const id = ['replication_id', '_local_id', 'id'].map((key) => body[key]).find((v): v is string => typeof v === 'string');
      const cancelled = jobs.cancel(id !== undefined ? { id } : { spec: { ...parseSpec(body), ...(user && { owner: user }) } }, user);
      if (cancelled === undefined) throw new RefugeError('not_found', 'replication job not found');
      return cancelled === null ? { ok: true } : { ok: true, _local_id: cancelled };
    }
    const spec = user ? await userJob(ctx, user, parseSpec(body)) : parseSpec(body);
    let result;
    try {
      result = await jobs.replicate(spec);
    } catch (err) {
      // CouchDB names a missing source or target db_not_found.
      if (isRefugeError(err, 'not_found') && /database does not exist/i.test(err.reason)) {
        throw new RefugeError('db_not_found', `could not open a database of ${describeEndpoint(spec.source)} -> ${describeEndpoint(spec.target)}`, { cause: err });
      }
      throw err;
    }
    if (result.continuous) {
      reply.code(202);
      return { ok: true, _local_id: result.id };
    }
    const r = result.report;
    // Cancelled before it finished: the caller waiting for it must not read a success (CouchDB
    // answers an error too); what it wrote so far stays, checkpointed.
    if (r.status === 'cancelled') {
      throw new RefugeError('unavailable', `the replication was cancelled after ${r.docsWritten} documents were written, before it finished`);
    }
    // Without checkpoints CouchDB has no session to report.
    if (spec.tuning?.checkpoints === false) return { ok: true, use_checkpoints: false };
    // Nothing to replicate: CouchDB says so (`no_changes`), with the checkpoint it resumed from.
    if (r.missingChecked === 0 && r.docsRead === 0) {
      const last = r.history[0];
      if (last === undefined) return { ok: true, no_changes: true };
      return { ok: true, no_changes: true, session_id: last.session_id, source_last_seq: last.recorded_seq, replication_id_version: 4, history: r.history };
    }
    return {
      ok: r.ok,
      session_id: r.sessionId,
      source_last_seq: r.lastSeq,
      replication_id_version: 4,
      // CouchDB names when a replication by doc_ids ran (it keeps no checkpoint history for them).
      ...(spec.docIds !== undefined && { start_time: new Date(r.startTime).toUTCString(), end_time: new Date(r.endTime).toUTCString() }),
      docs_read: r.docsRead,
      docs_written: r.docsWritten,
      doc_write_failures: r.docWriteFailures,
      history: r.history,
    };
  });
}
