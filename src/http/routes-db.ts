// Database-level endpoints: create, info (one, or several by `_dbs_info`), delete, `POST /{db}`,
// compaction, revs_limit, purge, and the one shard a single node has (`_shards`).

import type { FastifyInstance } from 'fastify';
import { mapLimit } from '../blobs/index.ts';
import { RefugeError } from '../errors/index.ts';
import { requireDbAdmin } from './user-access.ts';
import { absoluteUrl, dbOf, type ServerContext } from './context.ts';
import { batchWrite, checkDocumentSizes, documentBody } from './doc-writes.ts';
import { bodyOf } from './streamed-json.ts';
import { bool, objectBody, requireJsonType, str, type Query } from './params.ts';
import { parseViewParams } from '../views/index.ts';
import { dbInfoWire } from './wire.ts';
import { NODE_NAME } from './routes-node.ts';

/** The whole hash range: the one shard of a database on a single node. */
const SHARD_RANGE = '00000000-ffffffff';

/** CouchDB's max_db_number_for_dbs_info_req. */
const MAX_DBS_INFO_KEYS = 100;
const DBS_INFO_PARALLEL = 8;

/**
 * The names `_all_dbs` and `_dbs_info` list, read as CouchDB reads them: an `_all_docs` of its
 * database of databases (chttpd_misc:handle_all_dbs_info_req, couch_mrview_http:parse_params), so
 * with `_all_docs`'s range options and their errors: `key`, `startkey`/`endkey` (`start_key`/
 * `end_key`), `inclusive_end`, `descending` (then startkey is the upper end), `skip`, `limit`. A key
 * that is no string sorts before every name (Erlang term order, as for `_all_docs` ids).
 */
export function dbNameRange(sorted: readonly string[], q: Query): string[] {
  const o = parseViewParams(q);
  // '' is the place before every name: no database is named ''.
  const place = (k: unknown) => (k === undefined ? undefined : typeof k === 'string' ? k : '');
  const start = place(o.key ?? o.startkey);
  const end = place(o.key ?? o.endkey);
  const inclusiveEnd = o.inclusiveEnd ?? true;
  const descending = o.descending ?? false;
  const skip = o.skip ?? 0;
  const names = descending ? [...sorted].reverse() : [...sorted];
  const before = (a: string, b: string) => (descending ? a > b : a < b);
  const inRange = (n: string) =>
    (start === undefined || !before(n, start)) && (end === undefined || (inclusiveEnd ? !before(end, n) : before(n, end)));
  const kept = names.filter(inRange);
  return kept.slice(skip, o.limit === undefined ? undefined : skip + o.limit);
}

export function dbRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.put<{ Params: { db: string } }>('/:db', async (req, reply) => {
    // Refused, not ignored: an app written for partitions must not get a plain database that says yes.
    if (bool(req.query as Query, 'partitioned')) throw new RefugeError('bad_request', 'Partitioned feature is not enabled.');
    // Shards and copies mean nothing on one node, but a bad value is refused as CouchDB refuses it.
    for (const opt of ['q', 'n']) {
      const v = str(req.query as Query, opt);
      if (v !== undefined && !/^\+?0*[1-9][0-9]{0,8}$/.test(v)) throw new RefugeError('bad_request', `The \`${opt}\` value should be a positive integer.`);
    }
    await ctx.node.createDb(req.params.db, { hold: false });
    reply.code(201).header('Location', absoluteUrl(req, `/${encodeURIComponent(req.params.db)}`));
    return { ok: true };
  });

  const info = async (req: { params: { db: string } }) => dbInfoWire(await (await dbOf(ctx, req)).info());
  app.get<{ Params: { db: string } }>('/:db', info);

  // `_dbs_info` (CouchDB 3): several databases' info at once, by name or over `_all_dbs`.
  // Each database is held only while its info is read, a few at a time: a listing of every
  // database of a large node must not open them all at once.
  const infoOf = async (key: string) => {
    let lease;
    try {
      lease = await ctx.node.lease(key);
      return { key, info: dbInfoWire(await lease.db.info()) };
    } catch (err) {
      if (err instanceof RefugeError && (err.code === 'not_found' || err.code === 'bad_request')) return { key, error: 'not_found' };
      throw err;
    } finally {
      lease?.release();
    }
  };
  const infosOf = (names: readonly string[]) => mapLimit(names, DBS_INFO_PARALLEL, infoOf);
  app.get('/_dbs_info', async (req) => infosOf(dbNameRange(await ctx.node.allDbs(), req.query as Query)));
  app.post('/_dbs_info', async (req) => {
    const keys = objectBody(req.body).keys;
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new RefugeError('bad_request', '`keys` member must exist.');
    if (keys.length > MAX_DBS_INFO_KEYS) throw new RefugeError('bad_request', `\`keys\` member must have at most ${MAX_DBS_INFO_KEYS} names`);
    return infosOf(keys);
  });

  app.delete<{ Params: { db: string } }>('/:db', async (req) => {
    // Any rev, said once or more: a DELETE meant for a document must not take the database.
    if ((req.query as Record<string, unknown>).rev !== undefined) {
      // CouchDB's own words, `?=rev` included.
      throw new RefugeError('bad_request', 'You tried to DELETE a database with a ?=rev parameter. Did you mean to DELETE a document instead?');
    }
    await ctx.node.deleteDb(req.params.db);
    return { ok: true };
  });

  app.post<{ Params: { db: string } }>('/:db', async (req, reply) => {
    const db = await dbOf(ctx, req);
    const doc = documentBody(await bodyOf(ctx, req, reply));
    checkDocumentSizes([doc], ctx.settings.maxDocumentSize, req.headers['content-length']);
    const location = (id: string) => absoluteUrl(req, `/${encodeURIComponent(req.params.db)}/${encodeURIComponent(id)}`);
    if (str(req.query as Query, 'batch') === 'ok') return batchWrite(db, doc, req.user, reply, location);
    const r = await db.put(doc, { userCtx: req.user });
    reply.code(201).header('Location', location(r.id));
    return { ok: true, id: r.id, rev: r.rev };
  });

  app.post<{ Params: { db: string } }>('/:db/_compact', async (req, reply) => {
    requireJsonType(req.headers);
    await requireDbAdmin(ctx, req.user, req.params.db);
    // CouchDB compacts in the background and answers 202 at once; the database is held until done.
    const lease = await ctx.node.lease(req.params.db);
    const name = req.params.db;
    ctx.compactions.set(name, lease.db);
    void lease.db
      .compact()
      .catch((err) => req.log.error({ err }, 'compaction failed'))
      .finally(() => {
        // A later request may have started another compaction of this name (another database,
        // once this one was deleted and created again): that one stays listed.
        if (ctx.compactions.get(name) === lease.db && !lease.db.compaction) ctx.compactions.delete(name);
        lease.release();
      });
    reply.code(202);
    return { ok: true };
  });

  app.post<{ Params: { db: string } }>('/:db/_ensure_full_commit', async (req, reply) => {
    const db = await dbOf(ctx, req);
    await db.ensureFullCommit();
    reply.code(201);
    // A replicator compares it with the one it started with: another means the database was replaced.
    return { ok: true, instance_start_time: db.instanceStartTime };
  });

  app.get<{ Params: { db: string } }>('/:db/_revs_limit', async (req) => (await dbOf(ctx, req)).getRevsLimit());

  app.put<{ Params: { db: string } }>('/:db/_revs_limit', async (req) => {
    await requireDbAdmin(ctx, req.user, req.params.db);
    const db = await dbOf(ctx, req);
    await db.setRevsLimit(req.body as number);
    return { ok: true };
  });

  app.get<{ Params: { db: string } }>('/:db/_security', async (req) => {
    await dbOf(ctx, req);
    return ctx.node.security(req.params.db);
  });

  app.put<{ Params: { db: string } }>('/:db/_security', async (req) => {
    await requireDbAdmin(ctx, req.user, req.params.db);
    await ctx.node.setSecurity(req.params.db, req.body);
    return { ok: true };
  });

  // Purge erases history: an admin's alone (the server's or the database's), whatever else a caller may write.
  app.post<{ Params: { db: string } }>('/:db/_purge', async (req, reply) => {
    await requireDbAdmin(ctx, req.user, req.params.db);
    const db = await dbOf(ctx, req);
    const { purged } = await db.purge(objectBody(req.body) as Record<string, string[]>);
    // A cluster's purge_seq is opaque, and CouchDB 3 answers null for it.
    reply.code(201);
    return { purge_seq: null, purged };
  });

  // CouchDB 3 without a cluster keeps a database in one shard (the `q: 1` its info tells), on itself;
  // clients that read the shard map to plan parallel reads find that.
  app.get<{ Params: { db: string } }>('/:db/_shards', async (req) => {
    await dbOf(ctx, req);
    return { shards: { [SHARD_RANGE]: [NODE_NAME] } };
  });
  app.get<{ Params: { db: string } }>('/:db/_shards/*', async (req) => {
    await dbOf(ctx, req);
    return { range: SHARD_RANGE, nodes: [NODE_NAME] };
  });
  // Nothing to bring in line on one node: accepted, as CouchDB accepts it and syncs in the background.
  app.post<{ Params: { db: string } }>('/:db/_sync_shards', async (req, reply) => {
    await requireDbAdmin(ctx, req.user, req.params.db);
    await dbOf(ctx, req);
    reply.code(202);
    return { ok: true };
  });

  app.get<{ Params: { db: string } }>('/:db/_purged_infos', async (req) => {
    await requireDbAdmin(ctx, req.user, req.params.db);
    return { purged_infos: await (await dbOf(ctx, req)).purgedInfos() };
  });
  app.get<{ Params: { db: string } }>('/:db/_purged_infos_limit', async (req) => (await dbOf(ctx, req)).getPurgedInfosLimit());

  app.put<{ Params: { db: string } }>('/:db/_purged_infos_limit', async (req) => {
    await requireDbAdmin(ctx, req.user, req.params.db);
    const db = await dbOf(ctx, req);
    await db.setPurgedInfosLimit(req.body as number);
    return { ok: true };
  });
}
