// A few changes read once from a snapshot and held in memory: the sequence entries after a point,
// the records they name and their conflicting leaves' bodies. Live feeds that one commit wakes, each
// with a filter of its own, read their rows from it (the feed reader as it is, changes.ts) instead
// of each from storage.

import { RefugeError } from '../errors/index.ts';
import { collect, inRange, type KvRange, type KvReader } from '../storage/index.ts';
import { otherLeaves } from './changes.ts';
import { DOC, docKey, revBodyKey, seqKey } from './keys.ts';

export interface CapturedChanges {
  /** The last sequence held: every change in (since, upTo] is, with its document's record. */
  readonly upTo: number;
  /** Reads exactly what was captured; asked for anything else, it throws (never a silent gap). */
  readonly reader: KvReader;
}

/**
 * Reads the changes of `snap` after `since` up to `committed` (the snapshot's committed sequence),
 * at most `span` sequences of them, with the records they name.
 */
export async function captureChanges(snap: KvReader, since: number, committed: number, span: number): Promise<CapturedChanges> {
  const upTo = Math.max(since, Math.min(committed, since + span));
  const held: KvRange = { gt: seqKey(since), lte: seqKey(upTo) };
  const entries = await collect(snap, held);
  const keys = entries.map(([, value]) => docKey((JSON.parse(value) as [string])[0]));
  const values = await snap.getMany(keys);
  const records = new Map(keys.map((key, i) => [key, values[i]]));
  // The bodies of conflicting leaves too, which a filtered feed of all leaves judges (changes.ts).
  const leafKeys = keys.flatMap((key, i) => {
    const raw = values[i];
    return (raw === undefined ? undefined : otherLeaves(raw))?.map((rev) => revBodyKey(key.slice(DOC.length), rev)) ?? [];
  });
  if (leafKeys.length > 0) {
    const bodies = await snap.getMany(leafKeys);
    leafKeys.forEach((key, i) => records.set(key, bodies[i]));
  }
  return { upTo, reader: capturedReader(entries, records, held) };
}

function capturedReader(entries: Array<[string, string]>, records: Map<string, string | undefined>, held: KvRange): KvReader {
  const value = (key: string): string | undefined => {
    if (!records.has(key)) throw new RefugeError('internal', `a captured read of changes was asked for ${key}, which it does not hold`);
    return records.get(key);
  };
  const scan = async function* (range: KvRange, chunkSize = 1024): AsyncIterableIterator<Array<[string, string]>> {
    // Sequence keys are ASCII: plain comparison orders them as storage does.
    const below = range.gte !== undefined ? range.gte <= held.gt! : range.gt === undefined || range.gt < held.gt!;
    const above = range.lte !== undefined ? range.lte > held.lte! : range.lt === undefined || range.lt > held.lte!;
    if (below || above) {
      throw new RefugeError('internal', 'a captured read of changes was asked for a range it does not hold');
    }
    const inside = entries.filter(([key]) => inRange(key, range));
    if (range.reverse) inside.reverse();
    if (range.limit !== undefined && range.limit >= 0) inside.length = Math.min(inside.length, range.limit);
    for (let i = 0; i < inside.length; i += chunkSize) yield inside.slice(i, i + chunkSize);
  };
  return {
    get: async (key) => value(key),
    getSync: value,
    getMany: async (keys) => keys.map(value),
    scan,
    async *scanKeys(range, chunkSize) {
      for await (const chunk of scan(range, chunkSize)) yield chunk.map(([key]) => key);
    },
  };
}
