// The replication id: which checkpoint document (`_local/<id>`) a replication resumes from. Like
// CouchDB's, a hash of both ends and of every option that changes which documents flow.

import { md5Hex } from '#platform/md5';
import { canonicalJson } from '../documents/index.ts';
import type { ReplicationPeer } from './peer.ts';

/** Bumped whenever the inputs below change, so old checkpoints are not misread. */
export const REPLICATION_ID_VERSION = 1;

export interface ReplicationFilter {
  docIds?: readonly string[];
  selector?: unknown;
}

export async function replicationId(source: ReplicationPeer, target: ReplicationPeer, filter: ReplicationFilter): Promise<string> {
  const [from, to] = await Promise.all([source.identity(), target.identity()]);
  // The order of doc_ids does not change what replicates, so it must not change the id either.
  const docIds = filter.docIds ? [...new Set(filter.docIds)].sort() : undefined;
  const input = canonicalJson({ version: REPLICATION_ID_VERSION, source: from, target: to, docIds, selector: filter.selector });
  return md5Hex(input);
}

export const checkpointDocId = (replicationId: string): string => `_local/${replicationId}`;
