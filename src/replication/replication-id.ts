// The replication id: which checkpoint document (`_local/<id>`) a replication resumes from. Like
// CouchDB's, a hash of both ends and of every option that changes which documents flow.

import { md5Hex } from '#platform/md5';
import { canonicalJson } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import type { ReplicationPeer } from './peer.ts';

/** Bumped whenever the inputs below change, so old checkpoints are not misread. */
export const REPLICATION_ID_VERSION = 1;

export interface ReplicationFilter {
  docIds?: readonly string[];
  selector?: unknown;
  filter?: string;
  queryParams?: Record<string, unknown>;
  /** Part of the id only when set, so ids of ordinary replications stay as they were. */
  winningRevsOnly?: boolean;
}

export async function replicationId(source: ReplicationPeer, target: ReplicationPeer, filter: ReplicationFilter): Promise<string> {
  const [from, to] = await Promise.all([source.identity(), target.identity()]);
  // The order of doc_ids does not change what replicates, so it must not change the id either.
  const docIds = filter.docIds ? [...new Set(filter.docIds)].sort() : undefined;
  // As CouchDB: a filtered replication's id covers the filter's code, so editing it starts afresh.
  const filterCode = filter.filter === undefined ? undefined : await filterSource(source, filter.filter, filter.queryParams);
  const named = filter.filter === undefined ? {} : { filter: filter.filter, filterCode, queryParams: filter.queryParams ?? {} };
  const input = canonicalJson({
    version: REPLICATION_ID_VERSION,
    source: from,
    target: to,
    docIds,
    selector: filter.selector,
    ...named,
    ...(filter.winningRevsOnly === true && { winningRevsOnly: true }),
  });
  return md5Hex(input);
}

export const checkpointDocId = (replicationId: string): string => `_local/${replicationId}`;

const generation = (rev: string) => Number.parseInt(rev, 10);
const winsOver = (a: string, b: string) => generation(a) > generation(b) || (generation(a) === generation(b) && a > b);

/**
 * The source's code of filter `ddoc/name` (for `_view`, of the view's map); not_found when the
 * design document or function is missing. `_design` and the other built-in filters run no code.
 */
export async function filterSource(source: ReplicationPeer, name: string, queryParams: Record<string, unknown> | undefined): Promise<string | undefined> {
  const byView = name === '_view';
  // Built-in filters run no code of the source's (`_design`, and any other the feed knows).
  if (name.startsWith('_') && !byView) return undefined;
  if (byView && typeof queryParams?.view !== 'string') throw new RefugeError('bad_request', '`view` filter parameter is not provided.');
  const [ddoc, fn] = (byView ? String(queryParams?.view) : name).split('/') as [string, string];
  const res = await source.bulkGet([{ id: `_design/${ddoc}` }], { revs: true, latest: true });
  // Every leaf comes back (no rev asked): the filter is the winner's, CouchDB's choice among the
  // live ones (highest generation, then highest rev).
  const live = (res.results[0]?.docs ?? []).flatMap((d) => ('ok' in d && d.ok._deleted !== true ? [d.ok] : []));
  const found = live.length === 0 ? undefined : { ok: live.reduce((a, b) => (winsOver(b._rev!, a._rev!) ? b : a)) };
  const code = byView
    ? ((found?.ok.views as Record<string, { map?: unknown }> | undefined)?.[fn]?.map)
    : (found?.ok.filters as Record<string, unknown> | undefined)?.[fn];
  if (typeof code !== 'string') throw new RefugeError('not_found', `the source has no ${byView ? 'view' : 'filter'} ${byView ? queryParams?.view : name}`);
  return code;
}
