// The memory backend (portable: no Node imports): blobs as copied chunks in a Map, ids kept sorted
// for paging. Not persistent; used for tests, browsers' scratch stores and caches.

import { badRequest } from '../errors/index.ts';
import { BaseBlobStore, type BaseStoreOptions } from './base.ts';
import { checkExpected, copyOf, type Metered } from './chunks.ts';
import { blobNotFound } from './errors.ts';
import { portableSha256 } from './hash.ts';
import { parseBlobId, type BlobId } from './id.ts';
import type { BlobCapabilities, PutOptions, PutResult } from './types.ts';

interface Stored {
  size: number;
  /** Copies of the chunks as they came (a blob can outgrow one typed array). */
  parts: Uint8Array[];
  /** When it was last stored or reused (ms since the epoch): its age for gc's grace period. */
  storedAt: number;
}

/** Index of the first element >= id in a sorted array. */
function lowerBound(sorted: readonly string[], id: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemoryBlobStore extends BaseBlobStore {
  readonly backend = 'memory';
  readonly capabilities: BlobCapabilities = { persistent: false, durable: false, ranges: true, atomicPut: true, exclusiveCreate: true };
  readonly #blobs = new Map<BlobId, Stored>();
  readonly #sorted: BlobId[] = [];

  constructor(options: BaseStoreOptions = {}) {
    super({ ...options, hasher: options.hasher ?? portableSha256 });
  }

  protected async sizeOf(id: BlobId): Promise<number | null> {
    return this.#blobs.get(id)?.size ?? null;
  }

  protected async *readRange(id: BlobId, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const blob = this.#blobs.get(id);
    if (!blob) throw blobNotFound(id);
    let offset = 0;
    for (const part of blob.parts) {
      signal?.throwIfAborted();
      const partEnd = offset + part.length;
      if (partEnd > start && offset < end) {
        yield part.subarray(Math.max(0, start - offset), Math.min(part.length, end - offset));
      }
      offset = partEnd;
      if (offset >= end) break;
    }
  }

  protected async write(source: Metered, expected: BlobId | undefined, _options: PutOptions): Promise<PutResult> {
    const parts: Uint8Array[] = [];
    // Copy: the caller may reuse its buffers once the put returns (a Buffer's slice() is no copy).
    for await (const chunk of source) parts.push(copyOf(chunk));
    const id = source.id();
    checkExpected(expected, id);
    return this.commit(id, source.size, async () => {
      const held = this.#blobs.get(id);
      if (held) {
        // The same bytes stored again are as young as new ones, as a file rewritten is.
        held.storedAt = Date.now();
        return false;
      }
      this.#blobs.set(id, { size: source.size, parts, storedAt: Date.now() });
      this.#sorted.splice(lowerBound(this.#sorted, id), 0, id);
      return true;
    });
  }

  protected override async touch(id: BlobId): Promise<void> {
    const blob = this.#blobs.get(id);
    if (blob) blob.storedAt = Date.now();
  }

  /** When blob `id` was last stored or reused (ms since the epoch): its age for gc's grace period. */
  async modifiedAt(id: BlobId): Promise<number> {
    const blob = this.#blobs.get(id);
    if (!blob) throw blobNotFound(id);
    return blob.storedAt;
  }

  protected async remove(id: BlobId): Promise<number | null> {
    const blob = this.#blobs.get(id);
    if (!blob) return null;
    this.#blobs.delete(id);
    this.#sorted.splice(lowerBound(this.#sorted, id), 1);
    return blob.size;
  }

  protected async listPage(after: BlobId | undefined, limit: number): Promise<{ ids: BlobId[]; more: boolean }> {
    let from = after === undefined ? 0 : lowerBound(this.#sorted, after);
    if (after !== undefined && this.#sorted[from] === after) from++;
    const ids = this.#sorted.slice(from, from + limit);
    return { ids, more: from + limit < this.#sorted.length };
  }

  protected override async closeBackend(): Promise<void> {
    this.#blobs.clear();
    this.#sorted.length = 0;
  }

  /** Test hook: flips the bits of one stored byte, as bit rot would (reads must then fail). */
  corruptForTesting(id: BlobId, offset: number): void {
    const blob = this.#blobs.get(parseBlobId(id));
    if (!blob) throw blobNotFound(id);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= blob.size) throw badRequest('offset outside the blob');
    for (const part of blob.parts) {
      if (offset < part.length) {
        part[offset]! ^= 0xff;
        return;
      }
      offset -= part.length;
    }
  }
}
