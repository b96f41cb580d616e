// Listings read from one snapshot chunk by chunk (`allDocs`, `changes`): what an answer's head and
// tail need, and its rows as storage gives them, the snapshot held until the last chunk or close().

import type { KvSnapshot } from '../storage/index.ts';
import type { DbState } from './core.ts';
import type { AllDocsRow, ChangeRow } from './types.ts';

export interface Listing<Row> {
  /**
   * The rows, chunk by chunk (a chunk may be empty: the read found nothing to give in it), to be
   * iterated once. A consumer that stops early calls close(), not only return().
   */
  readonly chunks: AsyncGenerator<Row[], void, undefined>;
  /** The counters of the snapshot read (its update and purge sequences, sizes, ...). */
  readonly state: Readonly<DbState>;
  /** Ends the read (one under way, once its chunk is done) and releases the snapshot; more calls do nothing. */
  close(): Promise<void>;
}

export interface AllDocsListing extends Listing<AllDocsRow> {
  readonly totalRows: number;
  readonly updateSeq: number;
  /** CouchDB's offset: final once a chunk with rows has come, or the chunks ended (the rows skipped are counted as they pass). */
  readonly offset: number;
}

export interface ChangesListing extends Listing<ChangeRow> {
  /** The answer's `last_seq`: final once the chunks ended. */
  readonly lastSeq: number;
  /** CouchDB's `pending` (changes after `last_seq` in the snapshot) when asked for: final once the chunks ended. */
  readonly pending: number | undefined;
  /**
   * False when the database changed while a design filter was compiled, so the filter may not be
   * the one the snapshot holds: the answer is then not known by the snapshot and the options alone.
   */
  readonly filterOfSnapshot: boolean;
}

/** `read`'s chunks, with `snap` released after the last one, on a failure, or by close(), once. */
export function snapshotChunks<Row>(snap: KvSnapshot, read: AsyncGenerator<Row[], void, undefined>): Pick<Listing<Row>, 'chunks' | 'close'> {
  let released: Promise<void> | undefined;
  // A snapshot that fails to close has nothing more to give: what was read from it stands.
  const release = () => (released ??= snap.close().catch(() => undefined));
  const chunks = (async function* () {
    try {
      yield* read;
    } finally {
      await release();
    }
  })();
  return {
    chunks,
    close: async () => {
      // A generator never started runs no finally: its snapshot is released here.
      await chunks.return(undefined).catch(() => undefined);
      await release();
    },
  };
}
