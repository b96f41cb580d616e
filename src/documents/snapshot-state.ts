// The counters a read from a snapshot reports: the snapshot's own, not the live ones that a write
// computed since has already moved (a listing's lastSeq, totalRows and counts, a feed's last seq).

import { decodeState, initialState, type DbCore, type DbState } from './core.ts';
import { META_KEY } from './keys.ts';
import type { KvReader, KvSnapshot } from '../storage/index.ts';
import type { Writer } from './writer.ts';

type PendingWrites = Pick<Writer, 'hasPending'>;

/**
 * The counters as `reader` holds them (call it as the reader is made). The writer moves the live
 * ones (`core.state`) when it computes a write, before the write reaches storage, and a read that
 * settled may still see a later write computed since: a `lastSeq` or `totalRows` from the live
 * counters would count rows the reader lacks (a poller from that `lastSeq` would never see them).
 */
export async function stateIn(core: DbCore, writer: PendingWrites, reader: KvReader): Promise<DbState> {
  // Nothing computed but unwritten (checked as the reader is made, before any await): storage
  // holds the live counters, and reading them back would cost a read per small `changes`.
  if (!writer.hasPending) return core.state;
  const stored = await reader.get(META_KEY);
  const live = core.state;
  return stored === undefined ? initialState(live.revsLimit, live.autoIndex) : decodeState(stored, live);
}

/**
 * A snapshot for a listing read over many turns, its counters, and `count(snap)`: a count from the
 * in-memory block counts (seq-counts.ts, id-counts.ts), which sum their blocks as they are called,
 * with the snapshot just taken. Those counts move as a write is computed, before it is stored:
 * they are the snapshot's when no write lies between the two, which the snapshot's counters tell
 * (its sequences are the live ones). Otherwise both are taken again, three times at most; a database
 * written without pause may leave the last count off by the writes computed meanwhile, as any
 * count of a database being written is. `settle` waits for the writes computed so far.
 */
export async function listingSnapshot<C>(
  core: DbCore,
  writer: PendingWrites,
  settle: () => Promise<void>,
  count?: (snap: KvSnapshot) => Promise<C>,
): Promise<{ snap: KvSnapshot; state: DbState; counted: C | undefined }> {
  for (let attempt = 1; ; attempt++) {
    await settle();
    const snap = core.store.snapshot();
    const live = core.state;
    const counting = count?.(snap);
    counting?.catch(() => undefined);
    try {
      const state = { ...(await stateIn(core, writer, snap)) };
      if (!counting || attempt === 3 || (state.seq === live.seq && state.purgeSeq === live.purgeSeq)) return { snap, state, counted: await counting };
      await counting?.catch(() => undefined);
    } catch (err) {
      await snap.close().catch(() => undefined);
      throw err;
    }
    await snap.close();
  }
}
