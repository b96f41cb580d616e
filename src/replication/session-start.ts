// The start of a replication session: the source answers, the replication id is derived (a filter
// read from the source), the target answers (created when asked, once the source passed), and the
// checkpoint to resume from is read from both sides.

import { RefugeError, isRefugeError } from '../errors/index.ts';
import { Checkpointer } from './checkpoint.ts';
import type { ResolvedOptions } from './options.ts';
import type { PeerInfo, ReplicationPeer, Seq } from './peer.ts';
import { checkpointDocId, replicationId } from './replication-id.ts';

export interface SessionContext {
  /** Runs one peer call with the replication's retries. */
  call: <T>(fn: () => Promise<T>) => Promise<T>;
  signal: AbortSignal;
  session: { sessionId: string; startTime: string };
  /** Told the replication id once both peers have answered, before the checkpoints are read. */
  onId: (id: string) => void;
  /** Told it before any peer is asked, when no filter's code is part of it (see beginSession). */
  onEarlyId?: (id: string) => void;
  /** A restart after the source was found replaced: the target's log alone is not trusted (Checkpointer.read). */
  sourceReplaced?: boolean;
}

export async function beginSession(
  source: ReplicationPeer,
  target: ReplicationPeer,
  options: ResolvedOptions,
  ctx: SessionContext,
): Promise<{ checkpointer: Checkpointer; startSeq: Seq }> {
  const { call, signal } = ctx;
  // Without a filter the id needs no answer from a peer (its inputs are their names and the
  // options): known now, a continuous job is named while a peer that does not answer is retried.
  const early = options.filter === undefined ? await replicationId(source, target, options) : undefined;
  if (early !== undefined) ctx.onEarlyId?.(early);
  const sourceInfo = await call(() => source.info({ signal })).catch((err) => {
    throw isRefugeError(err, 'not_found') ? new RefugeError('not_found', 'the source database does not exist', { cause: err }) : err;
  });
  // What the source must have or do is known before the target is made: a replication refused for
  // its filter or its selector creates nothing (CouchDB fetches the filter as it computes the id).
  if (options.selector !== undefined && !source.capabilities.selector) {
    throw new RefugeError('not_implemented', 'the source cannot filter changes by selector');
  }
  const id = early ?? (await replicationId(source, target, options));
  let targetInfo: PeerInfo;
  try {
    targetInfo = await call(() => target.info({ signal }));
  } catch (err) {
    if (!isRefugeError(err, 'not_found')) throw err;
    if (!options.createTarget || !target.createDatabase) {
      throw new RefugeError('not_found', 'the target database does not exist (the create_target option, --create-target on the command line, creates it)', { cause: err });
    }
    await call(() => target.createDatabase!({ signal }));
    // Asked again for the new database's instance_start_time, which checkpoints compare with.
    targetInfo = await call(() => target.info({ signal }));
  }
  ctx.onId(id);
  const instances = { source: sourceInfo.instanceStartTime, target: targetInfo.instanceStartTime };
  const checkpointer = new Checkpointer(source, target, checkpointDocId(id), ctx.session, instances);
  const probeSource = options.checkpoints && ctx.sourceReplaced !== true;
  const startSeq = await call(() => checkpointer.read(signal, options.since, { probeSource }));
  return { checkpointer, startSeq };
}
