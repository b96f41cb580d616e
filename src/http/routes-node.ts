// Node-level endpoints as CouchDB 3 has them, for admins: `_membership`, `_node/{node}` with
// `_versions`, `_system`, `_stats`, `_prometheus`, a read-only `_config` (settings come from
// flags, environment and the config file, and change with a restart), and `_cluster_setup`'s state.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { requireAdmin } from './auth.ts';
import type { ServerContext } from './context.ts';

/** A single node's name, as a CouchDB started without a cluster calls itself. */
export const NODE_NAME = 'nonode@nohost';

type NodeReq = FastifyRequest<{ Params: { node: string; section?: string; key?: string; '*'?: string } }>;

function checkNode(req: NodeReq): void {
  requireAdmin(req.user);
  const node = req.params.node;
  if (node !== '_local' && node !== NODE_NAME) throw new RefugeError('not_found', `no such node: ${node}`);
}

function config(ctx: ServerContext): Record<string, Record<string, string>> {
  const s = ctx.settings;
  const admin = ctx.auth.admin;
  return {
    chttpd: { bind_address: s.host, port: String(s.port), max_http_request_size: String(s.bodyLimit) },
    couchdb: { uuid: ctx.uuid, max_dbs_open: String(ctx.node.maxOpenDbs), database_dir: ctx.node.dataDir ?? '' },
    // Never the password, as CouchDB shows only a hash.
    admins: admin ? { [admin.name]: '-hashed-' } : {},
    refuge: { version: ctx.version, durability: ctx.node.durability },
  };
}

/** A member of the configuration, never one of Object.prototype's (`constructor`, `__proto__`, `toString`). */
const own = <T>(o: Record<string, T>, key: string): T | undefined => (Object.hasOwn(o, key) ? o[key] : undefined);

export function nodeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const gauges = () => ({ openDatabases: ctx.node.openDbCount });

  app.get('/_membership', async (req) => {
    requireAdmin(req.user);
    return { all_nodes: [NODE_NAME], cluster_nodes: [NODE_NAME] };
  });

  app.get('/_node/:node', async (req: NodeReq) => {
    checkNode(req);
    return { name: NODE_NAME };
  });

  app.get('/_node/:node/_versions', async (req: NodeReq) => {
    checkNode(req);
    return {
      javascript_engine: { name: 'quickjs', version: 'quickjs-emscripten' },
      refuge: { version: ctx.version },
      node: { version: process.version, v8: process.versions.v8 },
    };
  });

  app.get('/_node/:node/_system', async (req: NodeReq) => {
    checkNode(req);
    const mem = process.memoryUsage();
    return {
      uptime: Math.round(process.uptime()),
      memory: { rss: mem.rss, heap_total: mem.heapTotal, heap_used: mem.heapUsed, external: mem.external, array_buffers: mem.arrayBuffers },
      open_databases: ctx.node.openDbCount,
      open_feeds: ctx.feeds.size,
      node_version: process.version,
      pid: process.pid,
    };
  });

  app.get('/_node/:node/_stats', async (req: NodeReq) => {
    checkNode(req);
    return ctx.stats.couch(gauges());
  });
  // A branch of the tree, as CouchDB answers `_stats/couchdb/request_time`.
  app.get('/_node/:node/_stats/*', async (req: NodeReq) => {
    checkNode(req);
    let at: unknown = ctx.stats.couch(gauges());
    for (const part of (req.params['*'] ?? '').split('/').filter(Boolean)) {
      // Own members only: `constructor` or `__proto__` name no stat.
      at = at !== null && typeof at === 'object' && Object.hasOwn(at, part) ? (at as Record<string, unknown>)[part] : undefined;
      if (at === undefined) throw new RefugeError('not_found', `no stat named ${req.params['*']}`);
    }
    return at;
  });

  app.get('/_node/:node/_prometheus', async (req: NodeReq, reply: FastifyReply) => {
    checkNode(req);
    reply.header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
    return ctx.stats.prometheus(gauges());
  });

  app.get('/_node/:node/_config', async (req: NodeReq) => {
    checkNode(req);
    return config(ctx);
  });
  app.get('/_node/:node/_config/:section', async (req: NodeReq) => {
    checkNode(req);
    return own(config(ctx), req.params.section!) ?? {};
  });
  app.get('/_node/:node/_config/:section/:key', async (req: NodeReq, reply: FastifyReply) => {
    checkNode(req);
    const section = own(config(ctx), req.params.section!);
    const value = section && own(section, req.params.key!);
    if (value === undefined) throw new RefugeError('not_found', 'unknown_config_value');
    // A JSON string, as CouchDB answers (Fastify would send a bare string as text).
    reply.header('Content-Type', 'application/json');
    return JSON.stringify(value);
  });
  const readOnly = async (req: NodeReq) => {
    checkNode(req);
    throw new RefugeError('method_not_allowed', 'the configuration is read-only while the node runs: change its flags, environment or config file and restart');
  };
  app.route({ method: ['PUT', 'DELETE'], url: '/_node/:node/_config/:section/:key', handler: readOnly });

  // A single node, set up by its start options: enabled once it has an admin, as CouchDB's setup
  // reports it (Fauxton's setup page reads it). Set up only so: the wizard's actions are refused.
  app.get('/_cluster_setup', async (req) => {
    requireAdmin(req.user);
    return { state: ctx.auth.admin ? 'single_node_enabled' : 'single_node_disabled' };
  });
  app.post('/_cluster_setup', async (req) => {
    requireAdmin(req.user);
    throw new RefugeError('bad_request', 'a Refuge node is a single node set up by its start options (`refuge start --admin user:pass`, its environment or config file), not by _cluster_setup');
  });
}
