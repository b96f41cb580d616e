// Read snapshots for engines that have none (browser-level: IndexedDB transactions end with the
// task that opened them). Writes run one at a time; before a write, every snapshot taken earlier
// records the values the write is about to replace (first replacement only), so a snapshot read is
// the live answer, unless the snapshot recorded that key. Costs nothing while no snapshot is open.

import { RefugeError } from '../errors/index.ts';
import { compareStrings as compareKeys } from '../platform/compare-strings.ts';
import { inRange } from './ranges.ts';
import type { KvRange, KvReader, KvSnapshot } from './types.ts';

interface Overlay {
  /** Writes issued up to this one are in the snapshot; later ones record into `was`. */
  readonly after: number;
  /** Key -> its value when the snapshot was taken (undefined: absent then). */
  readonly was: Map<string, string | undefined>;
  closed: boolean;
}

export class SnapshotOverlays {
  private readonly open = new Set<Overlay>();
  private issued = 0;
  private tail: Promise<unknown> = Promise.resolve();

  /** `live` reads the store as it is now (no snapshot). */
  constructor(private readonly live: KvReader) {}

  /**
   * Runs `run` after every write issued before it. When snapshots taken earlier are open, the keys
   * from `touched` are read first and their values recorded in those snapshots.
   */
  write<T>(touched: () => Promise<Iterable<string>> | Iterable<string>, run: () => Promise<T>): Promise<T> {
    const seq = ++this.issued;
    const result = this.tail.then(async () => {
      const targets = [...this.open].filter((o) => o.after < seq);
      if (targets.length > 0) {
        const keys = [...new Set(await touched())];
        const values = await this.live.getMany(keys);
        for (const o of targets) {
          keys.forEach((k, i) => {
            if (!o.was.has(k)) o.was.set(k, values[i]);
          });
        }
      }
      return run();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  snapshot(): KvSnapshot {
    const overlay: Overlay = { after: this.issued, was: new Map(), closed: false };
    this.open.add(overlay);
    return new OverlaySnapshot(this.live, overlay, this.tail, () => this.open.delete(overlay));
  }

  /** The store closed: every snapshot it handed out is closed too. */
  closeAll(): void {
    for (const o of this.open) o.closed = true;
    this.open.clear();
  }
}

class OverlaySnapshot implements KvSnapshot {
  constructor(
    private readonly live: KvReader,
    private readonly overlay: Overlay,
    /** Writes issued before the snapshot was taken are part of it: reads wait for them. */
    private readonly ready: Promise<unknown>,
    private readonly release: () => void,
  ) {}

  private check(): void {
    if (this.overlay.closed) throw new RefugeError('closed', 'storage is closed (snapshot)');
  }

  // The live value is read first and the overlay checked after: a write that lands in between
  // has recorded the older value by then.
  async get(key: string): Promise<string | undefined> {
    this.check();
    await this.ready;
    const value = await this.live.get(key);
    this.check();
    return this.overlay.was.has(key) ? this.overlay.was.get(key) : value;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    this.check();
    await this.ready;
    const values = await this.live.getMany(keys);
    this.check();
    const was = this.overlay.was;
    return keys.map((k, i) => (was.has(k) ? was.get(k) : values[i]));
  }

  scan(range: KvRange, chunkSize?: number): AsyncIterableIterator<Array<[string, string]>> {
    return this.merged(range, chunkSize, (r, size) => this.live.scan(r, size), (e) => e[0], (e) => e[1], (key, value) => [key, value]);
  }

  scanKeys(range: KvRange, chunkSize?: number): AsyncIterableIterator<string[]> {
    // A key listed live stands for a present value; only its presence matters here.
    return this.merged(range, chunkSize, (r, size) => this.live.scanKeys(r, size), (k) => k, () => '', (key) => key);
  }

  /**
   * The live scan, chunk by chunk, with the overlay laid over it. Each live chunk is one consistent
   * read of the keys after the previous chunk's last one; the overlay, checked after that read,
   * holds the snapshot's value for every key in that stretch written since the snapshot was taken.
   */
  private async *merged<E, O>(
    range: KvRange,
    chunkSize: number | undefined,
    scan: (range: KvRange, size: number) => AsyncIterableIterator<E[]>,
    keyOf: (entry: E) => string,
    valueOf: (entry: E) => string,
    make: (key: string, value: string) => O,
  ): AsyncIterableIterator<O[]> {
    this.check();
    await this.ready;
    const size = chunkSize !== undefined && Number.isFinite(chunkSize) && chunkSize >= 1 ? Math.floor(chunkSize) : 256;
    const limit = range.limit !== undefined && range.limit >= 0 ? range.limit : Infinity;
    if (limit === 0) return;
    // The limit counts the snapshot's rows, not the live ones.
    const { limit: _omit, ...unlimited } = range;
    let emitted = 0;
    let out: O[] = [];
    for await (const rows of this.windows(scan(unlimited, size), keyOf, valueOf, range)) {
      for (const [key, value] of rows) {
        out.push(make(key, value));
        if (++emitted === limit || out.length === size) {
          yield out;
          out = [];
          if (emitted === limit) return;
        }
      }
    }
    if (out.length > 0) yield out;
  }

  /** The live chunks as the snapshot's rows: one window per chunk, then the rest of the range. */
  private async *windows<E>(
    live: AsyncIterableIterator<E[]>,
    keyOf: (entry: E) => string,
    valueOf: (entry: E) => string,
    range: KvRange,
  ): AsyncIterableIterator<Array<[string, string]>> {
    const dir = range.reverse ? -1 : 1;
    let prev: string | undefined;
    for await (const chunk of live) {
      this.check();
      const last = keyOf(chunk[chunk.length - 1]!);
      yield this.window(chunk, keyOf, valueOf, prev, last, range, dir);
      prev = last;
    }
    this.check();
    yield this.window([], keyOf, valueOf, prev, undefined, range, dir);
  }

  /** The snapshot's entries in (prev, last] (to the end of the range when `last` is undefined), in order. */
  private window<E>(
    chunk: readonly E[],
    keyOf: (entry: E) => string,
    valueOf: (entry: E) => string,
    prev: string | undefined,
    last: string | undefined,
    range: KvRange,
    dir: number,
  ): Array<[string, string]> {
    const was = this.overlay.was;
    const rows = new Map<string, string | undefined>();
    for (const entry of chunk) rows.set(keyOf(entry), valueOf(entry));
    for (const [key, value] of was) {
      if (!inRange(key, range)) continue;
      if (prev !== undefined && compareKeys(key, prev) * dir <= 0) continue;
      if (last !== undefined && compareKeys(key, last) * dir > 0) continue;
      rows.set(key, value);
    }
    const out: Array<[string, string]> = [];
    for (const [key, value] of rows) if (value !== undefined) out.push([key, value]);
    if (was.size > 0) out.sort((a, b) => compareKeys(a[0], b[0]) * dir);
    return out;
  }

  async close(): Promise<void> {
    if (this.overlay.closed) return;
    this.overlay.closed = true;
    this.release();
  }
}
