// Replication options, their defaults and their validation (bad options fail before anything runs).

import { RefugeError, toRefugeError } from '../errors/index.ts';
import { normalizeSelector } from '../query/index.ts';
import type { Seq } from './peer.ts';
import { retryPolicy, type RetryOptions, type RetryPolicy } from './retry.ts';

export interface ReplicateOptions {
  /** Keep following the source's changes until cancelled (default false: stop once caught up). */
  continuous?: boolean;
  /** Replicate only these documents. */
  docIds?: readonly string[];
  /** Replicate only documents whose winning revision matches this Mango selector. */
  selector?: unknown;
  /** A design-document filter on the source (`ddoc/name`, CouchDB's `filter`), with its `query_params`. */
  filter?: string;
  queryParams?: Record<string, unknown>;
  /** Changes per batch (default 500, as CouchDB). */
  batchSize?: number;
  /** Batches being fetched and written at once (default 4). Checkpoints stay in feed order. */
  batchesInFlight?: number;
  /** Back-off on network failures and 5xx; false fails at the first one. */
  retry?: RetryOptions | false;
  /** At most one checkpoint per this many ms while busy (default 1000; 0: after every batch). The last one is always written. */
  checkpointInterval?: number;
  /** Start here instead of at the checkpoint (the checkpoint history is still kept). */
  since?: Seq;
  /** false: write no checkpoints (CouchDB's `use_checkpoints`); the run still resumes from old ones. */
  checkpoints?: boolean;
  /** Replicate only each document's winning revision, no conflicts (CouchDB 3.3's `winning_revs_only`). */
  winningRevsOnly?: boolean;
  /** Create the target database when it does not exist. */
  createTarget?: boolean;
  /** How long one long-poll waits for a change in continuous mode (default 30 s). */
  longpollTimeoutMs?: number;
  /** Poll interval in continuous mode when the source cannot long-poll (default 1 s). */
  pollIntervalMs?: number;
}

export interface ResolvedOptions {
  continuous: boolean;
  docIds?: string[];
  selector?: unknown;
  filter?: string;
  queryParams?: Record<string, unknown>;
  batchSize: number;
  batchesInFlight: number;
  retry: RetryPolicy;
  checkpointInterval: number;
  since?: Seq;
  checkpoints: boolean;
  winningRevsOnly: boolean;
  createTarget: boolean;
  longpollTimeoutMs: number;
  pollIntervalMs: number;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RefugeError('bad_request', `${name} must be a positive integer`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new RefugeError('bad_request', `${name} must be a non-negative number`);
  }
  return value;
}

export function resolveOptions(o: ReplicateOptions = {}): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new RefugeError('bad_request', 'replication options must be an object');
  if (o.continuous !== undefined && typeof o.continuous !== 'boolean') throw new RefugeError('bad_request', 'continuous must be true or false');
  if (o.docIds !== undefined && (!Array.isArray(o.docIds) || !o.docIds.every((id) => typeof id === 'string'))) {
    throw new RefugeError('bad_request', 'docIds must be an array of strings');
  }
  if (o.docIds !== undefined && o.selector !== undefined) {
    throw new RefugeError('bad_request', 'docIds and selector cannot be combined');
  }
  if (o.selector !== undefined && (o.selector === null || typeof o.selector !== 'object' || Array.isArray(o.selector))) {
    throw new RefugeError('bad_selector', 'selector must be an object');
  }
  // A selector no source could run is refused before anything is done (a target created, say), as
  // CouchDB's replicator parses it before its job starts.
  if (o.selector !== undefined) {
    try {
      normalizeSelector(o.selector);
    } catch (err) {
      throw new RefugeError('bad_selector', `selector: ${toRefugeError(err).reason}`, { cause: err });
    }
  }
  if (o.filter !== undefined) {
    // A design document's filter, or CouchDB's built-ins _view (with query_params.view) and _design.
    if (typeof o.filter !== 'string' || !(/^(_design\/)?[^/]+\/[^/]+$/.test(o.filter) || o.filter === '_view' || o.filter === '_design')) {
      throw new RefugeError('bad_request', 'filter must name a design document filter (ddoc/name), _view or _design');
    }
    if (o.filter === '_view' && (typeof o.queryParams?.view !== 'string' || !/^[^/]+\/[^/]+$/.test(o.queryParams.view))) {
      throw new RefugeError('bad_request', 'filter _view needs query_params.view: ddoc/name');
    }
    if (o.docIds !== undefined || o.selector !== undefined) throw new RefugeError('bad_request', 'filter cannot be combined with docIds or selector');
  }
  if (o.queryParams !== undefined && (o.queryParams === null || typeof o.queryParams !== 'object' || Array.isArray(o.queryParams))) {
    throw new RefugeError('bad_request', 'queryParams must be an object');
  }
  if (o.since !== undefined && typeof o.since !== 'string' && typeof o.since !== 'number') {
    throw new RefugeError('bad_request', 'since must be a sequence (string or number)');
  }
  const continuous = o.continuous === true;
  return {
    continuous,
    docIds: o.docIds ? [...o.docIds] : undefined,
    selector: o.selector,
    filter: o.filter?.replace(/^_design\//, ''),
    queryParams: o.filter !== undefined ? { ...(o.queryParams ?? {}) } : undefined,
    batchSize: positiveInt('batchSize', o.batchSize, 500),
    batchesInFlight: positiveInt('batchesInFlight', o.batchesInFlight, 4),
    retry: retryPolicy(o.retry, continuous),
    checkpointInterval: nonNegative('checkpointInterval', o.checkpointInterval, 1000),
    since: o.since,
    checkpoints: o.checkpoints !== false,
    winningRevsOnly: o.winningRevsOnly === true,
    createTarget: o.createTarget === true,
    longpollTimeoutMs: positiveInt('longpollTimeoutMs', o.longpollTimeoutMs, 30_000),
    pollIntervalMs: nonNegative('pollIntervalMs', o.pollIntervalMs, 1000),
  };
}
