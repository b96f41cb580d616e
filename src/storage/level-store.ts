// Adapts any abstract-level database (memory-level, classic-level, browser-level) to KvStore,
// so every Level-family engine shares one implementation and one set of quirks.

import type { AbstractLevel, AbstractSnapshot } from 'abstract-level';
import { RefugeError } from '../errors/index.ts';
import type { KvCapabilities, KvOp, KvRange, KvSnapshot, KvStore, WriteOptions } from './types.ts';

type Db = AbstractLevel<any, string, string>;

const DEFAULT_CHUNK = 256;

function levelRange(range: KvRange): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (range.gt !== undefined) out.gt = range.gt;
  if (range.gte !== undefined) out.gte = range.gte;
  if (range.lt !== undefined) out.lt = range.lt;
  if (range.lte !== undefined) out.lte = range.lte;
  if (range.reverse) out.reverse = true;
  out.limit = range.limit === undefined || range.limit < 0 ? -1 : range.limit;
  return out;
}

function wrapFailure(err: unknown, what: string): RefugeError {
  const code = (err as { code?: string } | null)?.code;
  if (code === 'LEVEL_DATABASE_NOT_OPEN') return new RefugeError('closed', `storage is closed (${what})`, { cause: err });
  return new RefugeError('internal', `storage ${what} failed`, { cause: err });
}

class LevelReader {
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

  async *scan(range: KvRange, chunkSize = DEFAULT_CHUNK): AsyncIterableIterator<Array<[string, string]>> {
    const opts = levelRange(range);
    if (this.snap) opts.snapshot = this.snap;
    const it = this.db.iterator(opts);
    try {
      for (;;) {
        const entries = (await it.nextv(chunkSize)) as Array<[string, string]>;
        if (entries.length === 0) return;
        yield entries;
      }
    } catch (err) {
      throw wrapFailure(err, 'scan');
    } finally {
      await it.close();
    }
  }

  async *scanKeys(range: KvRange, chunkSize = DEFAULT_CHUNK): AsyncIterableIterator<string[]> {
    const opts = levelRange(range);
    if (this.snap) opts.snapshot = this.snap;
    const it = this.db.keys(opts);
    try {
      for (;;) {
        const keys = (await it.nextv(chunkSize)) as string[];
        if (keys.length === 0) return;
        yield keys;
      }
    } catch (err) {
      throw wrapFailure(err, 'scan');
    } finally {
      await it.close();
    }
  }
}

class LevelSnapshot extends LevelReader implements KvSnapshot {
  async close(): Promise<void> {
    await this.snap!.close();
  }
}

export class LevelKvStore extends LevelReader implements KvStore {
  readonly getSync?: (key: string) => string | undefined;

  constructor(
    db: Db,
    readonly engine: string,
    readonly capabilities: KvCapabilities,
    private readonly extras: {
      approximateSize?: (gte: string, lt: string) => Promise<number>;
      compactRange?: (gte: string, lt: string) => Promise<void>;
    } = {},
  ) {
    super(db, undefined);
    if (capabilities.getSync) this.getSync = (key) => db.getSync(key);
  }

  async batch(ops: readonly KvOp[], options?: WriteOptions): Promise<void> {
    if (ops.length === 0) return;
    try {
      await this.db.batch(ops as any, options?.sync ? ({ sync: true } as any) : undefined);
    } catch (err) {
      throw wrapFailure(err, 'batch');
    }
  }

  snapshot(): KvSnapshot {
    return new LevelSnapshot(this.db, this.db.snapshot());
  }

  approximateSize(range: { gte: string; lt: string }): Promise<number> {
    if (!this.extras.approximateSize) throw new RefugeError('not_implemented', `${this.engine} has no approximateSize`);
    return this.extras.approximateSize(range.gte, range.lt);
  }

  compactRange(range: { gte: string; lt: string }): Promise<void> {
    if (!this.extras.compactRange) throw new RefugeError('not_implemented', `${this.engine} has no compactRange`);
    return this.extras.compactRange(range.gte, range.lt);
  }

  async clear(range: KvRange = {}): Promise<void> {
    try {
      await this.db.clear(levelRange(range) as any);
    } catch (err) {
      throw wrapFailure(err, 'clear');
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
