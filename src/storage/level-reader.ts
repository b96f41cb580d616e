// Reads from any abstract-level database as KvReader: point gets, chunked range scans and snapshots,
// shared by the store itself (level-store.ts) and the snapshots it hands out.

import type { AbstractLevel, AbstractSnapshot } from 'abstract-level';
import { wrapFailure } from './level-checks.ts';
import type { KvRange, KvSnapshot } from './types.ts';

export type Db = AbstractLevel<any, string, string>;

export const DEFAULT_CHUNK = 256;

export function levelRange(range: KvRange): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (range.gt !== undefined) out.gt = range.gt;
  if (range.gte !== undefined) out.gte = range.gte;
  if (range.lt !== undefined) out.lt = range.lt;
  if (range.lte !== undefined) out.lte = range.lte;
  if (range.reverse) out.reverse = true;
  out.limit = range.limit === undefined || range.limit < 0 ? -1 : range.limit;
  return out;
}

function chunk(size: number | undefined): number {
  return size !== undefined && Number.isFinite(size) && size >= 1 ? Math.floor(size) : DEFAULT_CHUNK;
}

/** Whether the empty key lies in the range (abstract-level: gte wins over gt, lte over lt). */
export function admitsEmptyKey(range: KvRange): boolean {
  if (range.gte === undefined && range.gt !== undefined) return false;
  if (range.gte !== undefined && range.gte !== '') return false;
  return range.lte !== undefined || range.lt !== '';
}

export class LevelReader {
  constructor(
    protected readonly db: Db,
    protected readonly snap: AbstractSnapshot | undefined,
  ) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return await this.db.get(key, this.snap ? { snapshot: this.snap } : {});
    } catch (err) {
      throw wrapFailure(err, 'get');
    }
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    try {
      return await this.db.getMany(keys as string[], this.snap ? { snapshot: this.snap } : {});
    } catch (err) {
      throw wrapFailure(err, 'getMany');
    }
  }

  scan(range: KvRange, chunkSize = DEFAULT_CHUNK): AsyncIterableIterator<Array<[string, string]>> {
    return readAhead(() => this.db.iterator(this.iteratorOptions(range)), chunk(chunkSize)) as AsyncIterableIterator<Array<[string, string]>>;
  }

  scanKeys(range: KvRange, chunkSize = DEFAULT_CHUNK): AsyncIterableIterator<string[]> {
    return readAhead(() => this.db.keys(this.iteratorOptions(range)), chunk(chunkSize)) as AsyncIterableIterator<string[]>;
  }

  private iteratorOptions(range: KvRange): Record<string, unknown> {
    const opts = levelRange(range);
    if (this.snap) opts.snapshot = this.snap;
    return opts;
  }
}

/** What scan and scanKeys need of an abstract-level entry or key iterator. */
interface ChunkIterator {
  nextv(size: number): Promise<unknown[]>;
  close(): Promise<void>;
}

/** An iterator's chunks, each next one read (on the engine's thread) while the caller works on this one. */
async function* readAhead(open: () => ChunkIterator, size: number): AsyncIterableIterator<unknown[]> {
  let it: ChunkIterator | undefined;
  let ahead: Promise<unknown[]> | undefined;
  try {
    it = open();
    ahead = it.nextv(size);
    for (;;) {
      const items = await ahead;
      if (items.length === 0) return;
      ahead = it.nextv(size);
      yield items;
    }
  } catch (err) {
    throw wrapFailure(err, 'scan');
  } finally {
    // A caller that stops early leaves a read in flight: it ends before the iterator closes.
    await ahead?.catch(() => undefined);
    await it?.close();
  }
}

export class LevelSnapshot extends LevelReader implements KvSnapshot {
  async close(): Promise<void> {
    await this.snap!.close();
  }
}
