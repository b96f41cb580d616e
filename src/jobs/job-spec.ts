// What a replication job is asked to do: CouchDB's `_replicate` body or `_replicator` document,
// checked as CouchDB checks it and turned into a JobSpec.

import type { Doc, UserCtx } from '../documents/index.ts';
import { RefugeError, toRefugeError } from '../errors/index.ts';
import { normalizeSelector } from '../query/index.ts';
import { checkEndpoint, describeEndpoint, type Endpoint } from './endpoint.ts';

export interface JobSpec {
  source: Endpoint;
  target: Endpoint;
  continuous: boolean;
  createTarget: boolean;
  docIds?: string[];
  selector?: unknown;
  filter?: string;
  queryParams?: Record<string, unknown>;
  /** CouchDB's tuning options, as the replicator names them (worker_batch_size, ...). */
  tuning?: {
    since?: string | number;
    batchSize?: number;
    batchesInFlight?: number;
    checkpointInterval?: number;
    timeoutMs?: number;
    /** CouchDB's `retries_per_request`: how often a one-shot job retries a failed request before it fails. */
    retriesPerRequest?: number;
    /** CouchDB's `use_checkpoints: false`: no checkpoints written. */
    checkpoints?: boolean;
  };
  /** CouchDB 3.3's `winning_revs_only`. */
  winningRevsOnly?: boolean;
  /** The user who asked, when not the server admin: local writes are theirs, and so is the job. */
  owner?: UserCtx;
  /**
   * With an owner: their context now, for a local database, looked up before each of the job's calls;
   * it throws once they may no longer use it, which stops the job.
   */
  asOwner?: (db: string) => Promise<UserCtx>;
}

/** CouchDB's replication options that tune a job: its name -> the replicator's. */
const TUNING = {
  worker_batch_size: 'batchSize',
  worker_processes: 'batchesInFlight',
  checkpoint_interval: 'checkpointInterval',
  connection_timeout: 'timeoutMs',
  retries_per_request: 'retriesPerRequest',
} as const;

/** The options that may be 0. */
const MAY_BE_ZERO = new Set<string>(['checkpointInterval', 'retriesPerRequest']);

function tuningOf(body: Record<string, unknown>): JobSpec['tuning'] {
  const tuning: NonNullable<JobSpec['tuning']> = {};
  for (const [wire, name] of Object.entries(TUNING)) {
    const v = body[wire];
    if (v === undefined) continue;
    const least = MAY_BE_ZERO.has(name) ? 0 : 1;
    if (!Number.isSafeInteger(v) || (v as number) < least) throw new RefugeError('bad_request', `${wire} must be ${least === 0 ? 'a non-negative' : 'a positive'} integer`);
    tuning[name] = v as number;
  }
  if (body.use_checkpoints !== undefined) {
    if (typeof body.use_checkpoints !== 'boolean') throw new RefugeError('bad_request', 'parameter `use_checkpoints` must be a boolean');
    if (!body.use_checkpoints) tuning.checkpoints = false;
  }
  const since = body.since_seq;
  if (since !== undefined) {
    if (typeof since !== 'string' && !(Number.isSafeInteger(since) && (since as number) >= 0)) throw new RefugeError('bad_request', 'since_seq must be a sequence');
    tuning.since = since as string | number;
  }
  return Object.keys(tuning).length > 0 ? tuning : undefined;
}

function unquote(id: string): string {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}

/** What identifies an API job: its ends, whether it is continuous, and what it filters by. */
export function apiKey(spec: JobSpec): string {
  const filter = spec.docIds ?? spec.selector ?? (spec.filter ? [spec.filter, spec.queryParams] : null);
  // A user's job is theirs alone: the same replication asked by another user (or the admin) is another job.
  const owner = spec.owner ? `:user:${spec.owner.name}` : '';
  return `api:${describeEndpoint(spec.source)}>${describeEndpoint(spec.target)}:${spec.continuous}:${spec.winningRevsOnly === true}:${JSON.stringify(filter)}${owner}`;
}

/** CouchDB's checks of a replication's options (couch_replicator_docs:convert_options). */
function checkOptions(body: Record<string, unknown>): void {
  for (const flag of ['cancel', 'continuous', 'create_target', 'winning_revs_only']) {
    if (body[flag] !== undefined && typeof body[flag] !== 'boolean') throw new RefugeError('bad_request', `parameter \`${flag}\` must be a boolean`);
  }
  const selector = body.selector;
  if (selector !== undefined && (selector === null || typeof selector !== 'object' || Array.isArray(selector))) {
    throw new RefugeError('bad_request', 'parameter `selector` must be a JSON object');
  }
  // A selector the source could never run is refused now, as CouchDB refuses it, not retried for good.
  if (selector !== undefined) {
    try {
      normalizeSelector(selector);
    } catch (err) {
      throw new RefugeError('bad_request', `parameter \`selector\`: ${toRefugeError(err).reason}`, { cause: err });
    }
  }
  const docIds = body.doc_ids ?? undefined;
  if (docIds !== undefined && (!Array.isArray(docIds) || !docIds.every((d) => typeof d === 'string'))) {
    throw new RefugeError('bad_request', 'parameter `doc_ids` must be an array');
  }
  if ([docIds, body.filter, selector].filter((v) => v !== undefined).length > 1) {
    throw new RefugeError('bad_request', '`doc_ids`,`filter`,`selector` are mutually exclusive');
  }
}

export function parseSpec(body: Record<string, unknown>): JobSpec {
  checkOptions(body);
  if (body.filter !== undefined && typeof body.filter !== 'string') throw new RefugeError('bad_request', 'filter must be a string');
  const qp = body.query_params;
  if (qp !== undefined && (qp === null || typeof qp !== 'object' || Array.isArray(qp))) throw new RefugeError('bad_request', 'query_params must be an object');
  const tuning = tuningOf(body);
  // null stands for none, as in CouchDB.
  const docIds = body.doc_ids ?? undefined;
  return {
    source: checkEndpoint(body.source, 'source'),
    target: checkEndpoint(body.target, 'target'),
    continuous: body.continuous === true,
    createTarget: body.create_target === true,
    // CouchDB unquotes them (`_design%2Ffoo` is `_design/foo`).
    docIds: (docIds as string[] | undefined)?.map(unquote),
    selector: body.selector,
    ...(body.filter === undefined ? {} : { filter: body.filter as string, queryParams: (qp ?? {}) as Record<string, unknown> }),
    ...(tuning && { tuning }),
    ...(body.winning_revs_only === true && { winningRevsOnly: true }),
  };
}

/**
 * A `_replicator` document that asks for a replication no one could run (no source, `continuous:
 * "yes"`) is refused when written (403), as CouchDB 3.3's before_doc_update refuses it, rather than
 * taken and marked failed after. A deletion passes, and so does a document already marked failed:
 * one replicated in from a CouchDB, or this node's own record of one stored before the check.
 */
export function refusedReplicatorDoc(doc: Doc): RefugeError | undefined {
  if (doc._deleted === true || (doc as { _replication_state?: unknown })._replication_state === 'failed') return undefined;
  try {
    parseSpec(doc);
    return undefined;
  } catch (err) {
    return new RefugeError('forbidden', toRefugeError(err).reason, { cause: err });
  }
}
