// A database whose storage dropped damaged data while opening (KvStore.recoveryLoss: LevelDB skips
// a corrupt block of its log) no longer holds what its stored counters say: they are counted again
// from the documents' own records, sequence entries the lost writes would have removed are found,
// and the path index is rebuilt, so info, listings, changes and queries agree. Derived indexes
// (views, Mango json indexes, search) see recoveredSeq and rebuild too (indexers/feeder.ts).

import type { KvReader } from '../storage/index.ts';
import type { DbState } from './core.ts';
import { attachmentBytes } from './attachments.ts';
import { decodeBody, decodeHead } from './doc-record.ts';
import { DOC, SEQ, seqFromKey } from './keys.ts';

export interface Recount {
  state: DbState;
  /**
   * Sequence entries no document's record points at. A lost write that moved a document to a new
   * sequence also removed its old entry; a later write that survived removed only the lost one, so
   * the old entry is left behind and would list the document twice in changes.
   */
  orphanSeqKeys: string[];
}

/** The attachment bytes a stored record's winning body names (only a record naming some is parsed). */
function recordAttachmentBytes(value: string): number {
  return value.includes('"_attachments"') ? attachmentBytes(decodeBody(value)) : 0;
}

/** The attachment bytes every document's winning revision names, counted from the records (DbState.attBytes). */
export async function countAttachmentBytes(store: KvReader): Promise<number> {
  let total = 0;
  for await (const rows of store.scan({ gt: DOC, lt: 'd"' }, 1024)) for (const [, value] of rows) total += recordAttachmentBytes(value);
  return total;
}

/** `state` with its document counts, record and attachment bytes and last sequence taken from `store` itself. */
export async function recountState(store: KvReader, state: DbState): Promise<Recount> {
  let docCount = 0;
  let delCount = 0;
  let liveBytes = 0;
  let attBytes = 0;
  const seqs = new Set<number>();
  for await (const rows of store.scan({ gt: DOC, lt: 'd"' }, 1024)) {
    for (const [, value] of rows) {
      const head = decodeHead(value);
      seqs.add(head.seq);
      if (head.deleted) delCount++;
      else docCount++;
      liveBytes += value.length;
      attBytes += recordAttachmentBytes(value);
    }
  }
  let lastSeq = 0;
  const orphanSeqKeys: string[] = [];
  for await (const keys of store.scanKeys({ gt: SEQ, lt: 's"' }, 4096)) {
    for (const key of keys) {
      const seq = seqFromKey(key);
      lastSeq = Math.max(lastSeq, seq);
      if (!seqs.has(seq)) orphanSeqKeys.push(key);
    }
  }
  // A sequence is never given twice: the stored one stays when it is higher (it counts what was lost).
  // One more is skipped, so that an index that had read every change before the loss still lags
  // behind recoveredSeq, and is rebuilt.
  const seq = Math.max(state.seq, lastSeq) + 1;
  const counted: DbState = { ...state, docCount, delCount, liveBytes, attBytes, seq, recoveredSeq: seq, pathIndexReady: false };
  delete counted.recountPending;
  return { state: counted, orphanSeqKeys };
}
