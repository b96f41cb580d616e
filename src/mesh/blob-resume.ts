// What makes mesh blob transfers resumable: the node's staging area for partial blobs (both ways),
// one transfer per blob at a time, and the retry loop that continues a cut transfer where it stopped.

import { openStaging, stagingAvailable } from '#blobs/staging';
import { KeyedLock, type BlobId, type StagedInfo, type StagingArea } from '../blobs/core.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { sleep } from '../platform/sleep.ts';
import type { RefugeNode } from '../node/core.ts';

export interface BlobResumeOptions {
  /**
   * Blobs from this size on are staged as they arrive, so that a cut transfer continues from the
   * bytes kept (default 1 MiB); smaller ones start over, which costs less than staging them.
   */
  minBytes?: number;
  /** Where partial blobs are staged (default `DATA/blob-staging`; a temp dir for a node without one). */
  dir?: string;
  /** A partial blob not completed within this long is dropped (default 24 h). */
  ttlMs?: number;
  /**
   * Bytes partial blobs may take in all, counted at their full size (default 4 GiB): the oldest no
   * transfer is using go first; a transfer that still does not fit is not staged.
   */
  maxBytes?: number;
  /**
   * Bytes the partial blobs of one peer (pushed by it, or fetched from it) may take (default half
   * of maxBytes), so one peer cannot take the whole area and push everyone else's out: its own
   * oldest unused partial blobs make room first.
   */
  maxBytesPerPeer?: number;
  /** Attempts in a row that keep no new byte before a fetch or send gives up (default 4). */
  attempts?: number;
  /** The staging area's clock (tests move it past expiry). */
  now?: () => number;
}

/** What one attempt learnt, for the retry loop. */
export interface Attempt {
  /** The stream to the peer opened: a failure from here on is a cut, not an unreachable peer. */
  reached: boolean;
  /** The byte the transfer continued from (a staged prefix, 0 when it started over). */
  start: number;
}

export const STAGING_DIR = 'blob-staging';
const DEFAULT_MIN_BYTES = 1024 * 1024;
const DEFAULT_ATTEMPTS = 4;
const DEFAULT_MAX_BYTES = 4 * 1024 ** 3;
const MAX_PAUSE_MS = 4000;

export class BlobTransfers {
  readonly minBytes: number;
  private readonly attempts: number;
  private readonly maxBytes: number;
  private readonly maxBytesPerPeer: number;
  /** One transfer (fetch, received put, staged query) of a blob at a time. */
  private readonly locks = new KeyedLock();
  /** Transfers running or waiting, per blob: their partial blobs are not evicted. */
  private readonly active = new Map<BlobId, number>();
  private staging: Promise<StagingArea> | undefined;
  private closed = false;

  constructor(
    private readonly node: RefugeNode | undefined,
    private readonly options: BlobResumeOptions = {},
  ) {
    // Without a staging area (browsers), nothing is staged: a cut transfer starts over.
    this.minBytes = stagingAvailable ? (options.minBytes ?? DEFAULT_MIN_BYTES) : Infinity;
    this.attempts = Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS);
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxBytesPerPeer = Math.min(this.maxBytes, options.maxBytesPerPeer ?? Math.floor(this.maxBytes / 2));
  }

  /** The staging area, opened (and swept of expired entries) at first use. */
  area(): Promise<StagingArea> {
    if (this.closed) return Promise.reject(new RefugeError('closed', 'the blob exchange is closed'));
    const dir = this.options.dir ?? (this.node?.dataDir !== undefined ? `${this.node.dataDir}/${STAGING_DIR}` : undefined);
    this.staging ??= openStaging({
      ...(dir !== undefined && { dir }),
      ...(this.options.ttlMs !== undefined && { ttlMs: this.options.ttlMs }),
      ...(this.options.now && { now: this.options.now }),
      label: 'partial blob',
    });
    return this.staging;
  }

  /** Runs `fn` while no other transfer of blob `id` runs here. */
  async exclusive<T>(id: BlobId, fn: () => Promise<T>): Promise<T> {
    this.active.set(id, (this.active.get(id) ?? 0) + 1);
    try {
      return await this.locks.run(id, fn);
    } finally {
      const left = this.active.get(id)! - 1;
      if (left === 0) this.active.delete(id);
      else this.active.set(id, left);
    }
  }

  /**
   * Starts staging a transfer of `size` bytes of blob `id` from peer `from` (call it inside
   * `exclusive(id)`), making room under `maxBytesPerPeer` and `maxBytes` by dropping the oldest
   * partial blobs no transfer is using, that peer's own first. False when there is no room: the
   * transfer goes unstaged, and starts over if cut.
   */
  async stage(id: BlobId, size: number, from: string): Promise<boolean> {
    if (size > this.maxBytesPerPeer) return false;
    const area = await this.area();
    const others = (await area.list()).filter((e) => e.key !== id).sort((a, b) => a.created - b.created);
    const reserved = (e: StagedInfo) => Math.max(e.offset, typeof e.meta.size === 'number' ? e.meta.size : 0);
    const sum = (list: StagedInfo[]) => list.reduce((n, e) => n + reserved(e), 0);
    const isMine = (e: StagedInfo) => e.meta.from === from;
    // This peer's own partial blobs are dropped before anyone else's.
    const evictable = others.filter((e) => !this.active.has(e.key as BlobId)).sort((a, b) => Number(isMine(b)) - Number(isMine(a)));
    const mine = others.filter(isMine);
    let total = sum(others);
    let mineTotal = sum(mine);
    // Nothing is dropped for a transfer that would not fit anyway.
    if (mineTotal - sum(evictable.filter(isMine)) + size > this.maxBytesPerPeer) return false;
    if (total - sum(evictable) + size > this.maxBytes) return false;
    for (const e of evictable) {
      if (total + size <= this.maxBytes && mineTotal + size <= this.maxBytesPerPeer) break;
      if (!isMine(e) && total + size <= this.maxBytes) continue;
      await area.discard(e.key);
      total -= reserved(e);
      if (isMine(e)) mineTotal -= reserved(e);
    }
    await area.create(id, { size, from });
    return true;
  }

  /**
   * Runs `run` until it succeeds. A cut (`unavailable` once the peer was reached, or a `conflict`
   * over staged state) is tried again, continuing from what was kept, until `attempts` tries in a
   * row kept nothing new. A `hash_mismatch` is final, except once when the bytes verified included
   * a staged prefix: that prefix may be what was wrong (another peer's, or an older attempt's).
   */
  async retrying<T>(signal: AbortSignal | undefined, run: (attempt: Attempt) => Promise<T>): Promise<T> {
    let fruitless = 0;
    let best = -1;
    let afresh = false;
    for (;;) {
      const attempt: Attempt = { reached: false, start: 0 };
      try {
        return await run(attempt);
      } catch (err) {
        if (signal?.aborted) throw err;
        if (isRefugeError(err, 'hash_mismatch') && attempt.start > 0 && !afresh) {
          afresh = true; // the staged bytes were discarded with the mismatch: the next try starts at 0
          best = -1;
          continue;
        }
        const retryable = isRefugeError(err, 'conflict') || (isRefugeError(err, 'unavailable') && attempt.reached);
        if (!retryable) throw err;
        // Progress shows as a later start than any try before: the bytes of earlier tries were kept.
        if (attempt.start > best) {
          fruitless = 0;
          best = attempt.start;
        }
        if (++fruitless >= this.attempts) throw err;
        // The first retry goes at once (the link may just have recovered), later ones back off.
        if (fruitless > 1) await sleep(Math.min(250 * 2 ** (fruitless - 2), MAX_PAUSE_MS), signal);
        if (signal?.aborted) throw err;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const staging = this.staging;
    this.staging = undefined;
    await (await staging?.catch(() => undefined))?.close();
  }
}
