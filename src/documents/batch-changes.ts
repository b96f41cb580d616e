// The key changes one write batch collects (records, bodies, sequence entries, path index
// postings) and the counters they move: read back for read-your-writes, then appended to a
// storage chain whole or not at all. WriteBatch (write-batch.ts) decides them from document edits.

import { RefugeError } from '../errors/index.ts';
import type { IndexValue } from '../query/index.ts';
import type { DbCore, DbState } from './core.ts';
import { diffIndexEntries } from './index-diff.ts';
import type { OpSink } from './kept-ops.ts';
import { PostingCollector } from './postings.ts';
import type { JsonObject } from './types.ts';
import { isWellFormedUtf16 } from './validate.ts';

function checkKey(key: string): void {
  if (!isWellFormedUtf16(key)) {
    throw new RefugeError('bad_request', 'a key derived from this write is not well-formed Unicode');
  }
}

/** Where a write group's postings go once it is appended: the writer tags them (writer-flush.ts). */
export interface PostingSink {
  addPostings(group: PostingCollector, chain: OpSink): void;
}

export class BatchChanges {
  /** Keys a later read may ask for (records, bodies, local docs): key -> value, null = delete. */
  protected readonly ops = new Map<string, string | null>();
  /**
   * Write-only keys (sequence entries), in order as [key, value | null] pairs, never read back:
   * they go to the engine without a map, and a later op on the same key wins there.
   */
  protected readonly stream: Array<string | null> = [];
  /** This group's path index changes, stored as one posting per value (postings.ts). */
  private readonly postings = new PostingCollector();
  readonly state: DbState;
  /** Sequence entries this batch removes and adds, for the pending counts (seq-counts.ts). */
  readonly seqRemoved: number[] = [];
  readonly seqAdded: number[] = [];
  /** Ids that became live (+1) or stopped being (-1), as pairs; kept only once ids are counted. */
  readonly liveDeltas: Array<string | number> | null;

  /** `pending` answers for keys written by earlier change sets not yet flushed to storage. */
  constructor(
    protected readonly core: DbCore,
    private readonly pending: (key: string) => string | null | undefined,
  ) {
    this.state = { ...core.state };
    this.liveDeltas = core.idCounts.ready ? [] : null;
  }

  /** A key's current value: this batch's own changes, then unflushed ones, then storage. */
  async read(key: string): Promise<string | undefined> {
    const mine = this.ops.get(key);
    if (mine !== undefined) return mine ?? undefined;
    const queued = this.pending(key);
    if (queued !== undefined) return queued ?? undefined;
    const store = this.core.store;
    return store.getSync ? store.getSync(key) : store.get(key);
  }

  /** A key's value before this batch (unflushed, then storage), when it can be read without waiting. */
  protected storedNow(key: string): string | undefined {
    const queued = this.pending(key);
    if (queued !== undefined) return queued ?? undefined;
    return this.core.store.getSync?.(key);
  }

  get size(): number {
    return this.ops.size + this.stream.length / 2 + this.postings.entries;
  }

  protected reindex(id: string, before: JsonObject | undefined, after: JsonObject | undefined): void {
    const postings = this.postings;
    postings.forDoc(id);
    diffIndexEntries(this.core.indexEntries, before, after, postings.add, postings.remove);
  }

  /** Adds one path index entry (the index rebuild). */
  indexPut(id: string, path: string, value: IndexValue): void {
    this.postings.set(path, value, id, true);
  }

  /** Raw key changes for work outside documents (local docs, compaction). */
  setRaw(key: string, value: string | null): void {
    this.ops.set(key, value);
  }

  /**
   * Appends every key change of the batch to `chain` (its postings through `sink`, which tags
   * them), and returns the readable part (records, bodies, local docs) for read-your-writes until
   * the chain is written. The counters (`state`) are not among them: the writer stores them once
   * per chain, as they stand when it is written.
   */
  appendTo(chain: OpSink, sink: PostingSink): Map<string, string | null> {
    // Checked before the first op is added: a chain may already hold earlier acknowledged groups,
    // so this group must go in whole or not at all.
    for (const key of this.ops.keys()) checkKey(key);
    for (let i = 0; i < this.stream.length; i += 2) checkKey(this.stream[i]!);
    this.postings.checkKeys(checkKey);
    for (const [key, value] of this.ops) {
      if (value === null) chain.del(key);
      else chain.put(key, value);
    }
    const stream = this.stream;
    for (let i = 0; i < stream.length; i += 2) {
      const value = stream[i + 1];
      if (value === null) chain.del(stream[i]!);
      else chain.put(stream[i]!, value!);
    }
    if (!this.postings.isEmpty) sink.addPostings(this.postings, chain);
    return this.ops;
  }
}
