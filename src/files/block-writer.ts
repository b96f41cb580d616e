// Writes blocks into a BlobStore with a bounded number of puts in flight: the store hashes each block
// once and names it; a block the store already has is not stored twice.

import type { CID } from 'multiformats/cid';
import { digestOfBlobId } from '../blobs/id.ts';
import type { BlobStore } from '../blobs/types.ts';
import { cidOfDigest } from './blocks.ts';

export interface ImportStats {
  /** Blocks handed to the writer (leaves and nodes, duplicates included). */
  blocks: number;
  /** Blocks that were not in the store yet and were stored. */
  newBlocks: number;
  /** Bytes of all blocks handed in. */
  blockBytes: number;
  /** Bytes of the blocks newly stored: what the import cost the store. */
  newBytes: number;
}

export interface BlockWriterOptions {
  /** Puts in flight at once; default 16 (a put waits on a few disk calls, not on the CPU). */
  concurrency?: number;
  signal?: AbortSignal;
}

export const emptyStats = (): ImportStats => ({ blocks: 0, newBlocks: 0, blockBytes: 0, newBytes: 0 });

export class BlockWriter {
  readonly stats: ImportStats = emptyStats();
  readonly #store: BlobStore;
  readonly #limit: number;
  readonly #signal: AbortSignal | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #error: unknown;
  /** Starts high: the first blocks are looked for before being written. */
  #existing = 1;

  constructor(store: BlobStore, options: BlockWriterOptions = {}) {
    this.#store = store;
    this.#limit = Math.max(1, options.concurrency ?? 16);
    this.#signal = options.signal;
  }

  /** Hashes and stores a block (see `add`), resolving to its CID. */
  async write(bytes: Uint8Array, codec: number): Promise<CID> {
    return await (await this.add(bytes, codec)).cid;
  }

  /**
   * Schedules a block; resolves once a put slot is free, with the block's CID pending until the put
   * is done. The store hashes the bytes (once) and names the block: an id is never taken from
   * anywhere else. While recent blocks tend to exist already (an incremental snapshot) the put is
   * told to look before writing; while they tend to be new it writes straight away (a block already
   * there is still not stored twice). Either way a known block gets its age refreshed by the store,
   * so gc cannot sweep it before this snapshot's ref is written.
   */
  async add(bytes: Uint8Array, codec: number): Promise<{ cid: Promise<CID> }> {
    this.#check();
    this.stats.blocks++;
    this.stats.blockBytes += bytes.length;
    while (this.#inFlight.size >= this.#limit) await Promise.race(this.#inFlight);
    this.#check();
    const signal = this.#signal;
    const probe = this.#existing >= 0.5;
    const put = this.#store.put(bytes, signal ? { probe, signal } : { probe }).then((res) => {
      this.#learn(!res.created, res.size);
      return cidOfDigest(digestOfBlobId(res.id), codec);
    });
    this.#track(put);
    put.catch(() => {});
    return { cid: put };
  }

  /** Recent blocks' fate, decaying: near 1 when they were already stored, near 0 when new. */
  #learn(existed: boolean, size: number): void {
    this.#existing = this.#existing * 0.8 + (existed ? 0.2 : 0);
    if (!existed) {
      this.stats.newBlocks++;
      this.stats.newBytes += size;
    }
  }

  #track(work: Promise<unknown>): void {
    const task: Promise<void> = work
      .then(() => {})
      .catch((err: unknown) => {
        this.#error ??= err;
      })
      .finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
  }

  /** Waits until every scheduled put has finished; throws the first failure. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    this.#check();
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
    this.#signal?.throwIfAborted();
  }
}
