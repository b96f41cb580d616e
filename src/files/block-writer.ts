// Writes blocks into a BlobStore with few puts in flight: the CID is known as soon as the bytes are
// hashed, so tree building never waits on I/O; a block the store already has is never written again.

import type { CID } from 'multiformats/cid';
import { portableSha256, type HasherFactory } from '../blobs/hash.ts';
import { blobIdFromDigest, digestOfBlobId } from '../blobs/id.ts';
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
  /** SHA-256 used to name blocks (Node callers pass the node:crypto one; default portable). */
  hasher?: HasherFactory;
  /** Puts in flight at once; default 8. */
  concurrency?: number;
  signal?: AbortSignal;
}

export const emptyStats = (): ImportStats => ({ blocks: 0, newBlocks: 0, blockBytes: 0, newBytes: 0 });

export class BlockWriter {
  readonly stats: ImportStats = emptyStats();
  readonly #store: BlobStore;
  readonly #hasher: HasherFactory;
  readonly #limit: number;
  readonly #signal: AbortSignal | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  /** Digests written (or found) during this import: repeated blocks skip even the `has`. */
  readonly #seen = new Set<string>();
  #error: unknown;
  /** Starts high: the first blocks are checked before being written. */
  #existing = 1;

  constructor(store: BlobStore, options: BlockWriterOptions = {}) {
    this.#store = store;
    this.#hasher = options.hasher ?? portableSha256;
    this.#limit = Math.max(1, options.concurrency ?? 8);
    this.#signal = options.signal;
  }

  /** Hashes and stores a block (see `add`), resolving to its CID. */
  async write(bytes: Uint8Array, codec: number): Promise<CID> {
    return (await this.add(bytes, codec)).cid;
  }

  /**
   * Schedules a block; resolves once a put slot is free, with the block's CID still pending when it
   * is being computed by the put itself. Two strategies, picked by what recent blocks showed: while
   * blocks tend to exist already (an incremental snapshot), hash first and put only what `has` lacks;
   * while they tend to be new, put straight away and take the id the store computed (one hash, no
   * `has`; a block already there is still not stored twice).
   */
  async add(bytes: Uint8Array, codec: number): Promise<{ cid: Promise<CID> }> {
    this.#check();
    this.stats.blocks++;
    this.stats.blockBytes += bytes.length;
    while (this.#inFlight.size >= this.#limit) await Promise.race(this.#inFlight);
    this.#check();
    const signal = this.#signal;
    if (this.#existing < 0.5) {
      const put = this.#store.put(bytes, signal ? { signal } : {}).then((res) => {
        this.#learn(!res.created, res.size);
        return cidOfDigest(digestOfBlobId(res.id), codec);
      });
      this.#track(put);
      put.catch(() => {});
      return { cid: put };
    }
    const h = this.#hasher();
    h.update(bytes);
    const digest = h.digest();
    const cid = cidOfDigest(digest, codec);
    const id = blobIdFromDigest(digest);
    if (this.#seen.has(id)) return { cid: Promise.resolve(cid) };
    this.#seen.add(id);
    this.#track(
      // Known blocks are put again rather than skipped: the store only checks the bytes and
      // refreshes the blob's age, so gc cannot sweep it before this snapshot's ref is written.
      this.#store.put(bytes, signal ? { expectedId: id, signal } : { expectedId: id }).then((res) => {
        this.#learn(!res.created, res.size);
      }),
    );
    return { cid: Promise.resolve(cid) };
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
