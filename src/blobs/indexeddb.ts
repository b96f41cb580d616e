// The IndexedDB backend (browser-level; portable, for browsers): a blob is a meta record and its
// bytes in fixed-size parts, written in one transaction, so it appears whole or not at all.
// A put holds the blob in memory until it is verified: meant for attachments and documents' files,
// not for multi-gigabyte media.

import { BrowserLevel } from 'browser-level';
import { RefugeError } from '../errors/index.ts';
import { BaseBlobStore, type BaseStoreOptions } from './base.ts';
import { checkExpected, copyOf, fixedChunks, type Metered } from './chunks.ts';
import { blobNotFound } from './errors.ts';
import { portableSha256 } from './hash.ts';
import { parseBlobId, type BlobId } from './id.ts';
import type { BlobCapabilities, PutOptions, PutResult } from './types.ts';

/** Bytes per stored part: few IndexedDB values per blob, small enough to read a range cheaply. */
const PART = 256 * 1024;
const META = 'm!';
const partKey = (id: BlobId, i: number) => `p!${id}!${i.toString().padStart(8, '0')}`;
const utf8 = { encode: (s: string) => new TextEncoder().encode(s), decode: (b: Uint8Array) => new TextDecoder().decode(b) };

export interface IndexedDbBlobOptions extends BaseStoreOptions {
  /** The IndexedDB database holding the blobs (one per node or app). */
  name: string;
  /** Prefix of the IndexedDB database name (default `refuge-`). */
  prefix?: string;
}

export class IndexedDbBlobStore extends BaseBlobStore {
  readonly backend = 'indexeddb';
  // Two tabs storing the same new blob may both report it created: nothing coordinates them.
  readonly capabilities: BlobCapabilities = { persistent: true, durable: false, ranges: true, atomicPut: true, exclusiveCreate: false };

  private constructor(
    private readonly db: BrowserLevel<string, Uint8Array>,
    options: BaseStoreOptions,
  ) {
    super({ ...options, hasher: options.hasher ?? portableSha256 });
  }

  static async open(options: IndexedDbBlobOptions): Promise<IndexedDbBlobStore> {
    const { name, prefix = 'refuge-', ...base } = options;
    const db = new BrowserLevel<string, Uint8Array>(name, { prefix, keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (err) {
      throw new RefugeError('internal', `cannot open IndexedDB blob store ${prefix}${name}`, { cause: err });
    }
    return new IndexedDbBlobStore(db, base);
  }

  private async meta(id: BlobId): Promise<{ size: number } | undefined> {
    const raw = await this.db.get(META + id);
    return raw === undefined ? undefined : (JSON.parse(utf8.decode(raw)) as { size: number });
  }

  protected async sizeOf(id: BlobId): Promise<number | null> {
    return (await this.meta(id))?.size ?? null;
  }

  protected async *readRange(id: BlobId, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    if ((await this.meta(id)) === undefined) throw blobNotFound(id);
    if (end <= start) return;
    const first = Math.floor(start / PART);
    const last = Math.floor((end - 1) / PART);
    for (let i = first; i <= last; i++) {
      signal?.throwIfAborted();
      const part = await this.db.get(partKey(id, i));
      // Removed while being read: the reader gets what a missing blob gives.
      if (part === undefined) throw blobNotFound(id);
      const offset = i * PART;
      yield part.subarray(Math.max(0, start - offset), Math.min(part.length, end - offset));
    }
  }

  protected async write(source: Metered, expected: BlobId | undefined, _options: PutOptions): Promise<PutResult> {
    // IndexedDB clones a view's whole buffer: a part that is a slice of a larger one is copied.
    const parts: Uint8Array[] = [];
    for await (const part of fixedChunks(source, PART)) parts.push(part.byteLength === part.buffer.byteLength ? part : copyOf(part));
    const id = source.id();
    checkExpected(expected, id);
    return this.commit(id, source.size, async () => {
      if ((await this.meta(id)) !== undefined) return false;
      await this.db.batch([
        ...parts.map((value, i) => ({ type: 'put' as const, key: partKey(id, i), value })),
        { type: 'put' as const, key: META + id, value: utf8.encode(JSON.stringify({ size: source.size })) },
      ]);
      return true;
    });
  }

  protected async remove(id: BlobId): Promise<number | null> {
    const meta = await this.meta(id);
    if (meta === undefined) return null;
    const count = Math.ceil(meta.size / PART);
    await this.db.batch([
      { type: 'del' as const, key: META + id },
      ...Array.from({ length: count }, (_, i) => ({ type: 'del' as const, key: partKey(id, i) })),
    ]);
    return meta.size;
  }

  protected async listPage(after: BlobId | undefined, limit: number): Promise<{ ids: BlobId[]; more: boolean }> {
    const keys = await this.db.keys({ gt: META + (after ?? ''), lt: 'm"', limit: limit + 1 }).all();
    const ids = keys.slice(0, limit).map((k) => k.slice(META.length) as BlobId);
    return { ids, more: keys.length > limit };
  }

  protected override async closeBackend(): Promise<void> {
    await this.db.close();
  }

  /** Test hook: flips the bits of one stored byte, as bit rot would (reads must then fail). */
  async corruptForTesting(id: BlobId, offset: number): Promise<void> {
    const key = partKey(parseBlobId(id), Math.floor(offset / PART));
    const part = await this.db.get(key);
    if (part === undefined) throw blobNotFound(id);
    const damaged = part.slice();
    damaged[offset % PART]! ^= 0xff;
    await this.db.put(key, damaged);
  }
}
