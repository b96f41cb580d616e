// CouchDB's replication scheduler views: `_scheduler/jobs` (what runs now) and `_scheduler/docs`
// (what became of each `_replicator` document: running, crashing, completed or failed). Admin only.

import type { FastifyInstance } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import { describeEndpoint, isoSeconds, jobId, statsOf, type DocState, type Job, type ReplicationJobs } from '../jobs/index.ts';
import { requireAdmin } from './auth.ts';
import type { ServerContext } from './context.ts';
import { int, type Query } from './params.ts';

const iso = isoSeconds;

function info(job: Job) {
  const p = job.replication.progress;
  return { ...statsOf(p), source_seq: p.lastSeq ?? null, through_seq: p.throughSeq ?? null };
}

function jobWire(job: Job) {
  return {
    database: job.docId ? '_replicator' : null,
    id: jobId(job) ?? null,
    pid: job.replication.sessionId,
    source: describeEndpoint(job.spec.source),
    target: describeEndpoint(job.spec.target),
    // The user it runs as, as _active_tasks names it (the admin's own jobs run as no user).
    user: job.spec.owner?.name ?? null,
    doc_id: job.docId ?? null,
    info: info(job),
    // Newest first, as CouchDB lists a job's events.
    history: [
      ...job.crashes.map((c) => ({ timestamp: iso(c.at), type: 'crashed', reason: c.reason })),
      { timestamp: iso(job.startedOn), type: 'started' },
      { timestamp: iso(job.startedOn), type: 'added' },
    ],
    node: 'refuge',
    start_time: iso(job.startedOn),
  };
}

function docWire(d: DocState) {
  return {
    database: '_replicator',
    doc_id: d.docId,
    id: (d.job && jobId(d.job)) ?? null,
    node: 'refuge',
    source: d.spec ? describeEndpoint(d.spec.source) : null,
    target: d.spec ? describeEndpoint(d.spec.target) : null,
    state: d.state,
    info: d.state === 'failed' || d.state === 'crashing' ? { error: d.error ?? null } : d.stats ?? (d.job ? info(d.job) : null),
    error_count: d.errorCount,
    last_updated: iso(d.lastUpdated),
    start_time: iso(d.startTime),
  };
}

const STATES = new Set(['initializing', 'error', 'pending', 'running', 'crashing', 'completed', 'failed']);

/** CouchDB's `states=running,crashing` filter on `_scheduler/docs`. */
function byStates<T extends { state: string }>(q: Query, docs: T[]): T[] {
  const raw = typeof q.states === 'string' ? q.states : undefined;
  if (raw === undefined) return docs;
  const wanted = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of wanted) if (!STATES.has(s)) throw new RefugeError('bad_request', `unknown replication state: ${s}`);
  return docs.filter((d) => wanted.includes(d.state));
}

function page<T>(q: Query, all: T[], key: 'jobs' | 'docs') {
  const skip = int(q, 'skip') ?? 0;
  const limit = int(q, 'limit') ?? all.length;
  if (skip < 0 || limit < 0) throw new RefugeError('bad_request', 'skip and limit must be non-negative integers');
  return { total_rows: all.length, offset: skip, [key]: all.slice(skip, skip + limit) };
}

export function schedulerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const jobsOf = (req: { user: Parameters<typeof requireAdmin>[0] }): ReplicationJobs => {
    requireAdmin(req.user);
    if (!ctx.jobs) throw new RefugeError('not_implemented', 'replication jobs are disabled on this node');
    return ctx.jobs;
  };
  app.get('/_scheduler/jobs', async (req) => page(req.query as Query, jobsOf(req).runningJobs().map(jobWire), 'jobs'));
  app.get<{ Params: { id: string } }>('/_scheduler/jobs/:id', async (req) => {
    const jobs = jobsOf(req);
    const found = jobs.runningJobs().find((j) => jobs.named(j, req.params.id));
    if (!found) throw new RefugeError('not_found', 'unknown replication job');
    return jobWire(found);
  });
  const docs = (req: { user: Parameters<typeof requireAdmin>[0]; query: unknown }) =>
    page(req.query as Query, byStates(req.query as Query, jobsOf(req).replicatorDocs().map(docWire)), 'docs');
  app.get('/_scheduler/docs', async (req) => docs(req));
  app.get('/_scheduler/docs/_replicator', async (req) => docs(req));
  app.get<{ Params: { '*': string } }>('/_scheduler/docs/_replicator/*', async (req) => {
    const id = req.params['*'];
    const found = jobsOf(req).replicatorDocs().find((d) => d.docId === id);
    if (!found) throw new RefugeError('not_found', 'unknown replication document');
    return docWire(found);
  });
}
