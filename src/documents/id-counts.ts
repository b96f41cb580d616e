// How many live documents sort before an id (CouchDB's `offset` in `_all_docs` from a start key),
// without walking the listing: live documents are counted per segment of the id space in memory,
// kept by every committed write, so an answer is a sum over segments plus a scan of one segment.

import { RefugeError } from '../errors/index.ts';
import { compareStrings } from '../query/index.ts';
import type { KvReader } from '../storage/index.ts';
import { decodeHead } from './doc-record.ts';
import { DOC, docKey } from './keys.ts';

/** Live documents per segment when segments are cut; one grown to four times that is cut again. */
const SEGMENT = 512;
/** Past the last document key: '"' follows '!'. */
const DOC_END = DOC.slice(0, -1) + '"';

export class IdCounts {
  /**
   * Segment i holds the ids from fences[i] (included) to fences[i + 1] (excluded); fences[0] is ''.
   * Ids compare by code point, as LevelDB orders their UTF-8 keys. Null until counted.
   */
  private fences: string[] | null = null;
  private counts: number[] = [];

  constructor(private readonly segment = SEGMENT) {}

  get ready(): boolean {
    return this.fences !== null;
  }

  /**
   * Counts every live document in `reader` and cuts the segments. The caller makes sure no write
   * commits meanwhile (the writer runs it as an exclusive job), as for the sequence counts.
   */
  async count(reader: KvReader): Promise<void> {
    const cut = await this.cut(reader, '', undefined);
    this.fences = cut.fences;
    this.counts = cut.counts;
  }

  /** Drops the counts (storage was opened again after a failed write): counted anew when next asked. */
  forget(): void {
    this.fences = null;
    this.counts = [];
  }

  /** A committed write group's changes of liveness: pairs of id and +1 (now live) or -1. */
  apply(deltas: ReadonlyArray<string | number>): void {
    if (this.fences === null) return;
    for (let i = 0; i < deltas.length; i += 2) this.counts[this.segmentOf(deltas[i] as string)]! += deltas[i + 1] as number;
  }

  /** True when the segment holding `id` has grown too long to scan in one answer. */
  needsCut(id: string): boolean {
    return this.fences !== null && this.counts[this.segmentOf(id)]! > 4 * this.segment;
  }

  /** Cuts the segment holding `id` again; exclusive, as `count`. */
  async recut(reader: KvReader, id: string): Promise<void> {
    const fences = this.fences;
    if (fences === null) return;
    const i = this.segmentOf(id);
    const cut = await this.cut(reader, fences[i]!, fences[i + 1]);
    fences.splice(i, 1, ...cut.fences);
    this.counts.splice(i, 1, ...cut.counts);
  }

  /**
   * Live documents whose id sorts before `id` (or at it too, when `inclusive`). The whole segments
   * are summed as the call is made, before it awaits anything, and the partial one is read from
   * `reader`: called as a snapshot is taken, with no write computed but not stored, the answer is
   * the snapshot's (Database.listingSnapshot). Otherwise a write committing meanwhile can make it
   * off by what it wrote, as any count of a database being written is.
   */
  async before(reader: KvReader, id: string, inclusive: boolean): Promise<number> {
    const fences = this.fences;
    if (fences === null) throw new RefugeError('internal', 'id counts asked before they were counted');
    const seg = this.segmentOf(id);
    let total = 0;
    for (let i = 0; i < seg; i++) total += this.counts[i]!;
    const range = inclusive ? { gte: docKey(fences[seg]!), lte: docKey(id) } : { gte: docKey(fences[seg]!), lt: docKey(id) };
    for await (const chunk of reader.scan(range, this.segment)) for (const [, v] of chunk) if (!decodeHead(v).deleted) total++;
    return total;
  }

  /** The last segment whose fence is at or before `id`. */
  private segmentOf(id: string): number {
    const fences = this.fences!;
    let lo = 0;
    let hi = fences.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (compareStrings(fences[mid]!, id) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Segments of `segment` live documents over [from, to), the first one fenced at `from`. */
  private async cut(reader: KvReader, from: string, to: string | undefined): Promise<{ fences: string[]; counts: number[] }> {
    const fences = [from];
    const counts = [0];
    const range = { gte: docKey(from), lt: to === undefined ? DOC_END : docKey(to) };
    for await (const chunk of reader.scan(range, this.segment)) {
      for (const [key, v] of chunk) {
        if (decodeHead(v).deleted) continue;
        if (counts[counts.length - 1] === this.segment) {
          fences.push(key.slice(DOC.length));
          counts.push(0);
        }
        counts[counts.length - 1]!++;
      }
    }
    return { fences, counts };
  }
}
