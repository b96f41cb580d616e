// A database whose storage dropped damaged data while opening (KvStore.recoveryLoss: LevelDB skips
// a corrupt block of its log) no longer holds what its stored counters say: they are counted again
// from what is there, and the path index is rebuilt, so info, listings, changes and queries agree.

import type { KvReader } from '../storage/index.ts';
import type { DbState } from './core.ts';
import { DOC, SEQ, seqFromKey } from './keys.ts';

/** `state` with its document counts, record bytes and last sequence taken from `store` itself. */
export async function recountState(store: KvReader, state: DbState): Promise<DbState> {
  let docCount = 0;
  let delCount = 0;
  let lastSeq = 0;
  // One sequence entry per document, `[id, rev, deleted]`: the live and deleted counts.
  for await (const rows of store.scan({ gt: SEQ, lt: 's"' }, 4096)) {
    for (const [key, value] of rows) {
      lastSeq = Math.max(lastSeq, seqFromKey(key));
      if ((JSON.parse(value) as [string, string, number])[2] === 1) delCount++;
      else docCount++;
    }
  }
  let liveBytes = 0;
  for await (const rows of store.scan({ gt: DOC, lt: 'd"' }, 1024)) for (const [, value] of rows) liveBytes += value.length;
  // A sequence is never given twice: the stored one stays when it is higher (it counts what was lost).
  return { ...state, docCount, delCount, liveBytes, seq: Math.max(state.seq, lastSeq), pathIndexReady: false };
}
