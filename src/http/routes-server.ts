// Server-level endpoints: the welcome document, `_up`, `_uuids`, `_all_dbs`, `_session`.

import type { FastifyInstance } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { IdGenerator, randomUuid } from '../documents/index.ts';
import { requireAdmin } from './auth.ts';
import { absoluteUrl, checkFormOrigin, type ServerContext } from './context.ts';
import { dbNameRange } from './routes-db.ts';
import { int, objectBody, str, type Query } from './params.ts';

export function serverRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/', async () => ({
    couchdb: 'Welcome',
    version: '3.3.3',
    git_sha: 'refuge',
    uuid: ctx.uuid,
    features: ['access-ready', 'partitioned'].slice(0, 0),
    vendor: { name: 'Refuge', version: ctx.version },
  }));

  app.get('/_up', async () => ({ status: 'ok', seeds: {} }));

  // CouchDB's default algorithm, `sequential`: a random prefix and an increasing suffix, so ids a
  // client makes from them land together in the ordered store, as ids the server makes do.
  const uuids = new IdGenerator();
  app.get('/_uuids', async (req, reply) => {
    const count = int(req.query as Query, 'count') ?? 1;
    // Zero asks for none (an empty list, as CouchDB answers); past 1000 is CouchDB's error.
    if (count < 0) throw new RefugeError('bad_request', 'count must be a non-negative integer');
    if (count > 1000) throw new RefugeError('bad_request', 'count parameter too large');
    // Never cached, as CouchDB says: each answer is new ids.
    reply.headers({
      'Cache-Control': 'must-revalidate, no-cache',
      Pragma: 'no-cache',
      Expires: 'Fri, 01 Jan 1990 00:00:00 GMT',
      ETag: `"${randomUuid()}"`,
    });
    return { uuids: Array.from({ length: count }, () => uuids.next()) };
  });
  // Read-only server paths answer other methods 405 (CouchDB's send_method_not_allowed), never as
  // the database routes would take `/_all_dbs` (a document POSTed to a database of that name).
  for (const url of ['/', '/_up', '/_uuids', '/_all_dbs']) {
    app.route({
      method: ['POST', 'PUT', 'DELETE'],
      url,
      handler: async () => {
        throw new RefugeError('method_not_allowed', 'Only GET,HEAD allowed');
      },
    });
  }

  app.get('/_all_dbs', async (req) => dbNameRange(await ctx.node.allDbs(), req.query as Query));

  app.get('/_session', async (req) => {
    const basic = /^basic /i.test(req.headers.authorization ?? '');
    // `basic=true`: a client asking to be challenged gets CouchDB's 401 when nobody is logged in.
    if (str(req.query as Query, 'basic') === 'true' && ctx.auth.enabled && req.user.name === null) {
      throw new RefugeError('unauthorized', 'Please login.');
    }
    return {
      ok: true,
      userCtx: req.user,
      // CouchDB names the handler that identified the caller: `default` is Basic auth.
      info: { authentication_handlers: ['cookie', 'default'], authenticated: req.user.name ? (basic ? 'default' : 'cookie') : undefined },
    };
  });

  // `next` / `fail`: where CouchDB redirects after the login, a path on this server (never elsewhere),
  // its characters past printable ASCII percent-encoded: a Location holding a line break or a
  // character no header takes failed the answer (a 500), and must never split it.
  const redirectTo = (q: Query, name: string) => {
    const to = str(q, name);
    if (to === undefined || !to.startsWith('/') || to.startsWith('//') || to.includes('\\')) return undefined;
    return to.replace(/[^\x21-\x7e]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
  };
  app.post('/_session', async (req, reply) => {
    // A form (which a page on any site may send without asking) logs in only from this server's
    // own pages: elsewhere it would log the visitor in as someone else, or out.
    if (/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) checkFormOrigin(req);
    const q = req.query as Query;
    const body = (req.body === undefined ? {} : objectBody(req.body)) as { name?: unknown; username?: unknown; password?: unknown };
    // CouchDB takes the name as `name` or `username`, and asks for one when neither is there, or
    // when the two differ (couch_httpd_auth's extract_username).
    if (body.name !== undefined && body.username !== undefined && body.name !== body.username) {
      throw new RefugeError('bad_request', 'request body contains different usernames');
    }
    const name = body.name ?? body.username;
    const { password } = body;
    if (name === undefined) throw new RefugeError('bad_request', 'request body must contain a username');
    const user = typeof name === 'string' && typeof password === 'string' ? await ctx.auth.login(name, password) : undefined;
    if (user === undefined) {
      // A failed login also ends the session the client had, as in CouchDB.
      reply.header('Set-Cookie', ctx.auth.cookieHeader('', 0));
      const fail = redirectTo(q, 'fail');
      if (fail !== undefined) reply.code(302).header('Location', absoluteUrl(req, fail));
      else reply.code(401);
      return { error: 'unauthorized', reason: 'Name or password is incorrect.' };
    }
    reply.header('Set-Cookie', ctx.auth.cookieHeader(await ctx.auth.issueSession(user.name!)));
    const next = redirectTo(q, 'next');
    if (next !== undefined) reply.code(302).header('Location', absoluteUrl(req, next));
    return { ok: true, name: user.name, roles: user.roles };
  });

  app.route({
    method: ['PUT', 'PATCH'],
    url: '/_session',
    handler: async () => {
      throw new RefugeError('method_not_allowed', 'Only GET,HEAD,POST,DELETE allowed');
    },
  });
  app.delete('/_session', async (req, reply) => {
    reply.header('Set-Cookie', ctx.auth.cookieHeader('', 0));
    // As after a login, `next` sends the client on (CouchDB answers the log-out with a 302 too).
    const next = redirectTo(req.query as Query, 'next');
    if (next !== undefined) reply.code(302).header('Location', absoluteUrl(req, next));
    return { ok: true };
  });

  app.get('/_active_tasks', async (req) => {
    requireAdmin(req.user);
    return [...compactionTasks(ctx), ...(ctx.jobs ? ctx.jobs.activeTasks() : [])];
  });
}

/** Compactions under way, as CouchDB's `database_compaction` tasks. */
function compactionTasks(ctx: ServerContext): unknown[] {
  const tasks: unknown[] = [];
  for (const [name, db] of ctx.compactions) {
    const task = db.compaction;
    if (!task) continue;
    tasks.push({
      type: 'database_compaction',
      node: 'refuge',
      pid: `compaction:${name}`,
      database: name,
      changes_done: task.changesDone,
      total_changes: task.totalChanges,
      progress: task.totalChanges === 0 ? 0 : Math.min(100, Math.floor((task.changesDone * 100) / task.totalChanges)),
      started_on: Math.floor(task.startedOn / 1000),
      updated_on: Math.floor(task.updatedOn / 1000),
    });
  }
  return tasks;
}
