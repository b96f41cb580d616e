// The normal and longpoll `_changes` answers as they are streamed from one snapshot (json-rows.ts),
// and the normal feed's ETag, named by what the answer is made of rather than by its bytes.

import { md5Hex } from '#platform/md5';
import { changeRowJson, type ChangeRow, type ChangesListing, type ChangesOptions, type Database } from '../documents/index.ts';
import type { RowsAnswer } from './json-rows.ts';

/** A row as JSON text, its document spliced from storage where it came as text (ChangesOptions.docText). */
export const rowJson = (row: ChangeRow): string => changeRowJson(row);

/**
 * `{"results":[...],"last_seq":N,"pending":M}` laid out as CouchDB writes it, a row per line, so a
 * client can take rows as lines while the answer streams (Refuge's replicator does); `read` holds
 * rows the caller took from the listing already (a longpoll looking for a first row).
 */
export function changesAnswer(listing: ChangesListing, read: ChangeRow[] = []): RowsAnswer {
  const chunks = (async function* () {
    if (read.length > 0) yield read.map(rowJson);
    for await (const chunk of listing.chunks) yield chunk.map(rowJson);
  })();
  return {
    chunks,
    head: () => '{"results":[\n',
    separator: ',\n',
    tail: () => {
      const pending = listing.pending;
      return '\n],\n"last_seq":' + listing.lastSeq + (pending === undefined ? '' : ',"pending":' + pending) + '}\n';
    },
    close: async () => {
      await chunks.return(undefined).catch(() => undefined);
      await listing.close();
    },
  };
}

/**
 * The normal feed's ETag, as CouchDB's is derived from the database's state, not the body (a
 * streamed body cannot be hashed before it goes). It names everything the answer is a function
 * of: the database (its instance too: one deleted and made again is another), the snapshot's
 * counters (its update and purge sequences, and its live bytes, which a compaction stemming
 * revision histories changes), the options, and for a design filter who asks and the request it
 * sees. Undefined (no ETag) when the filter was compiled from another state than the snapshot's.
 */
export function changesEtag(db: Database, listing: ChangesListing, options: ChangesOptions, version: string): string | undefined {
  if (!listing.filterOfSnapshot) return undefined;
  const s = listing.state;
  const state = [s.seq, s.purgeSeq, s.docCount, s.delCount, s.liveBytes, s.instanceStartTime ?? '0'];
  return `"${md5Hex(JSON.stringify([version, db.name, state, options]))}"`;
}
