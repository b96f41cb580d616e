// An in-memory summary of one view's rows: consecutive blocks of ~`size` rows with their counts,
// once computed their reductions, and (for recently used blocks, within a budget) their row keys.
// It answers `offset` (rows before a key) without counting from the start and mostly without
// touching the store, and lets a reduce over a long range rereduce whole blocks instead of
// rescanning their rows. Built on first need from one key scan (so after a restart too), kept
// current by the group's updates. Keys compare by code point (= the store's byte order; JS `<`
// would misplace astral characters).

import { compareStrings } from '../query/index.ts';
import type { KvReader } from '../storage/index.ts';

/** What a block reduced to, with its first and last rows' encoded keys (for grouping). */
export interface BlockReduction {
  red: unknown;
  firstEnc: string;
  lastEnc: string;
  firstKey: unknown;
}

interface Block {
  /** Lowest key suffix of the block (the first block starts at ''). */
  start: string;
  count: number;
  red?: BlockReduction;
  /** The block's key suffixes in order, while cached. */
  keys?: string[];
}

/** Row keys kept in memory across all blocks of a view. */
const KEY_BUDGET = 200_000;

export class RowBlocks {
  private blocks: Block[] = [{ start: '', count: 0 }];
  /** prefix[i] = rows in blocks before i; rebuilt after a change. */
  private prefix: number[] | undefined;
  /** Blocks holding cached keys, least recently used first. */
  private readonly cached = new Set<Block>();
  private cachedKeys = 0;
  private dirty = false;

  private constructor(
    readonly viewPrefix: string,
    private readonly end: string,
    readonly size: number,
  ) {}

  static async build(reader: KvReader, viewPrefix: string, end: string, size = 64): Promise<RowBlocks> {
    const rb = new RowBlocks(viewPrefix, end, size);
    const cut = viewPrefix.length;
    let cur = rb.blocks[0]!;
    let keys: string[] = [];
    for await (const chunk of reader.scanKeys({ gte: viewPrefix, lt: end }, 1024)) {
      for (const k of chunk) {
        const suffix = k.slice(cut);
        if (cur.count === size) {
          rb.remember(cur, keys);
          cur = { start: suffix, count: 0 };
          keys = [];
          rb.blocks.push(cur);
        }
        cur.count++;
        keys.push(suffix);
      }
    }
    rb.remember(cur, keys);
    return rb;
  }

  get length(): number {
    return this.blocks.length;
  }

  total(): number {
    const p = this.prefixSums();
    return p[p.length - 1]!;
  }

  /** The block holding a row key suffix. */
  locate(suffix: string): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (compareStrings(this.blocks[mid]!.start, suffix) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** A row was added (+1) or removed (-1). */
  note(suffix: string, delta: 1 | -1): void {
    const i = this.locate(suffix);
    const b = this.blocks[i]!;
    b.count += delta;
    b.red = undefined;
    this.prefix = undefined;
    if (b.keys) {
      const at = lowerBound(b.keys, suffix);
      if (delta > 0) b.keys.splice(at, 0, suffix);
      else if (b.keys[at] === suffix) b.keys.splice(at, 1);
      else this.forget(b); // should not happen; never trust a cache that disagrees
      this.cachedKeys += b.keys ? delta : 0;
    }
    if (b.count > 2 * this.size || (b.count === 0 && i > 0)) this.dirty = true;
  }

  /** Splits oversized blocks and drops empty ones; called by the updater, alone on the group. */
  async rebalance(reader: KvReader): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    for (let i = this.blocks.length - 1; i >= 0; i--) {
      const b = this.blocks[i]!;
      if (b.count === 0 && i > 0) {
        this.forget(b);
        this.blocks.splice(i, 1);
      } else if (b.count > 2 * this.size) {
        const keys = b.keys ?? (await this.readKeys(reader, i));
        this.forget(b);
        const parts: Block[] = [];
        for (let at = 0; at < keys.length; at += this.size) {
          const part: Block = { start: at === 0 ? b.start : keys[at]!, count: Math.min(this.size, keys.length - at) };
          this.remember(part, keys.slice(at, at + this.size));
          parts.push(part);
        }
        this.blocks.splice(i, 1, ...parts);
      }
    }
    this.prefix = undefined;
  }

  /** The store key range of block i. */
  rangeOf(i: number): { gte: string; lt: string } {
    const next = this.blocks[i + 1];
    return { gte: this.viewPrefix + this.blocks[i]!.start, lt: next ? this.viewPrefix + next.start : this.end };
  }

  count(i: number): number {
    return this.blocks[i]!.count;
  }

  reduction(i: number): BlockReduction | undefined {
    return this.blocks[i]!.red;
  }

  setReduction(i: number, r: BlockReduction): void {
    this.blocks[i]!.red = r;
  }

  /** Rows whose store key is below `bound` (a full store key). */
  async rank(reader: KvReader, bound: string): Promise<number> {
    if (compareStrings(bound, this.viewPrefix) <= 0) return 0;
    if (compareStrings(bound, this.end) >= 0) return this.total();
    const suffix = bound.slice(this.viewPrefix.length);
    const i = this.locate(suffix);
    const b = this.blocks[i]!;
    let keys = b.keys;
    if (keys) {
      this.cached.delete(b); // most recently used goes last
      this.cached.add(b);
    } else {
      keys = await this.readKeys(reader, i);
      this.remember(b, keys);
    }
    return this.prefixSums()[i]! + lowerBound(keys, suffix);
  }

  /** At least as many rows as a store key range holds: those of the blocks it spans (nothing is read). */
  rowsAtMost(range: { gte: string; lt: string }): number {
    const cut = this.viewPrefix.length;
    const first = this.locate(compareStrings(range.gte, this.viewPrefix) <= 0 ? '' : range.gte.slice(cut));
    const last = compareStrings(range.lt, this.end) >= 0 ? this.blocks.length - 1 : this.locate(range.lt.slice(cut));
    const p = this.prefixSums();
    return p[last + 1]! - p[first]!;
  }

  /**
   * The key suffixes of the rows in a store key range when there are at most `max` of them and the
   * blocks it spans hold at most 8 * `max` rows (their keys are read once and then kept);
   * undefined for a bigger range.
   */
  async keysIn(reader: KvReader, range: { gte: string; lt: string }, max: number): Promise<string[] | undefined> {
    const cut = this.viewPrefix.length;
    const lo = compareStrings(range.gte, this.viewPrefix) <= 0 ? '' : range.gte.slice(cut);
    const open = compareStrings(range.lt, this.end) >= 0;
    const hi = open ? '' : range.lt.slice(cut);
    const first = this.locate(lo);
    const last = open ? this.blocks.length - 1 : this.locate(hi);
    const p = this.prefixSums();
    if (p[last + 1]! - p[first]! > 8 * max) return undefined;
    const out: string[] = [];
    for (let i = first; i <= last; i++) {
      const b = this.blocks[i]!;
      let keys = b.keys;
      if (keys) {
        this.cached.delete(b);
        this.cached.add(b);
      } else {
        keys = await this.readKeys(reader, i);
        this.remember(b, keys);
      }
      for (let k = i === first ? lowerBound(keys, lo) : 0; k < keys.length; k++) {
        if (!open && compareStrings(keys[k]!, hi) >= 0) break;
        out.push(keys[k]!);
      }
      if (out.length > max) return undefined;
    }
    return out;
  }

  private async readKeys(reader: KvReader, i: number): Promise<string[]> {
    const keys: string[] = [];
    const cut = this.viewPrefix.length;
    for await (const chunk of reader.scanKeys(this.rangeOf(i), 256)) for (const k of chunk) keys.push(k.slice(cut));
    return keys;
  }

  private remember(b: Block, keys: string[]): void {
    this.forget(b);
    b.keys = keys;
    this.cached.add(b);
    this.cachedKeys += keys.length;
    for (const old of this.cached) {
      if (this.cachedKeys <= KEY_BUDGET) break;
      this.forget(old);
    }
  }

  private forget(b: Block): void {
    if (!b.keys) return;
    this.cachedKeys -= b.keys.length;
    b.keys = undefined;
    this.cached.delete(b);
  }

  private prefixSums(): number[] {
    if (!this.prefix) {
      const p = [0];
      for (const b of this.blocks) p.push(p[p.length - 1]! + b.count);
      this.prefix = p;
    }
    return this.prefix;
  }
}

/** Index of the first key not below `suffix`. */
function lowerBound(keys: readonly string[], suffix: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareStrings(keys[mid]!, suffix) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
