// The IndexedDB backend (browser-level; portable, for browsers): a blob is a meta record naming the
// upload that wrote its bytes in fixed-size parts. Parts are written as they arrive (a put holds
// one part in memory), and the meta record, written once the bytes are verified, makes the blob
// appear whole or not at all. An upload cut short by a closed tab is swept at a later open.

import { bytesToHex } from '@noble/hashes/utils.js';
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
/** An upload in progress: its parts are kept only once a meta record names it. */
const UPLOAD = 'u!';
/** Uploads older than this at open are from a tab that went away: their parts are deleted. */
const STALE_UPLOAD_MS = 60 * 60 * 1000;
const partKey = (upload: string, i: number) => `p!${upload}!${i.toString().padStart(8, '0')}`;
/** Every part of one upload. */
const partsOf = (upload: string) => ({ gt: `p!${upload}!`, lt: `p!${upload}"` });

interface Meta {
  size: number;
  upload: string;
}
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const utf8 = { encode: (s: string) => encoder.encode(s), decode: (b: Uint8Array) => decoder.decode(b) };

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
    const store = new IndexedDbBlobStore(db, base);
    await store.sweepStaleUploads(Date.now() - STALE_UPLOAD_MS);
    return store;
  }

  private async meta(id: BlobId): Promise<Meta | undefined> {
    const raw = await this.db.get(META + id);
    return raw === undefined ? undefined : (JSON.parse(utf8.decode(raw)) as Meta);
  }

  /** Deletes the parts of uploads started before `before` that no blob names. */
  private async sweepStaleUploads(before: number): Promise<void> {
    for (const [key, raw] of await this.db.iterator({ gt: UPLOAD, lt: 'u"' }).all()) {
      if ((JSON.parse(utf8.decode(raw)) as { started: number }).started < before) await this.dropUpload(key.slice(UPLOAD.length));
    }
  }

  private async dropUpload(upload: string): Promise<void> {
    await this.db.clear(partsOf(upload));
    await this.db.del(UPLOAD + upload);
  }

  protected async sizeOf(id: BlobId): Promise<number | null> {
    return (await this.meta(id))?.size ?? null;
  }

  protected async *readRange(id: BlobId, start: number, end: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    const meta = await this.meta(id);
    if (meta === undefined) throw blobNotFound(id);
    if (end <= start) return;
    const first = Math.floor(start / PART);
    const last = Math.floor((end - 1) / PART);
    for (let i = first; i <= last; i++) {
      signal?.throwIfAborted();
      const part = await this.db.get(partKey(meta.upload, i));
      // Removed while being read: the reader gets what a missing blob gives.
      if (part === undefined) throw blobNotFound(id);
      const offset = i * PART;
      yield part.subarray(Math.max(0, start - offset), Math.min(part.length, end - offset));
    }
  }

  protected async write(source: Metered, expected: BlobId | undefined, _options: PutOptions): Promise<PutResult> {
    const upload = bytesToHex(crypto.getRandomValues(new Uint8Array(12)));
    await this.db.put(UPLOAD + upload, utf8.encode(JSON.stringify({ started: Date.now() })));
    let kept = false;
    try {
      let i = 0;
      // IndexedDB clones a view's whole buffer: a part that is a slice of a larger one is copied.
      for await (const part of fixedChunks(source, PART)) {
        await this.db.put(partKey(upload, i++), part.byteLength === part.buffer.byteLength ? part : copyOf(part));
      }
      const id = source.id();
      checkExpected(expected, id);
      return await this.commit(id, source.size, async () => {
        if ((await this.meta(id)) !== undefined) return false;
        const meta: Meta = { size: source.size, upload };
        await this.db.batch([
          { type: 'put', key: META + id, value: utf8.encode(JSON.stringify(meta)) },
          { type: 'del', key: UPLOAD + upload },
        ]);
        kept = true;
        return true;
      });
    } finally {
      // A failed, refused or duplicate upload leaves nothing behind.
      if (!kept) await this.dropUpload(upload);
    }
  }

  protected async remove(id: BlobId): Promise<number | null> {
    const meta = await this.meta(id);
    if (meta === undefined) return null;
    // The meta record goes first: a blob is gone as soon as it is unnamed, whatever happens next.
    await this.db.del(META + id);
    await this.db.clear(partsOf(meta.upload));
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
    const meta = await this.meta(parseBlobId(id));
    if (meta === undefined) throw blobNotFound(id);
    const key = partKey(meta.upload, Math.floor(offset / PART));
    const part = await this.db.get(key);
    if (part === undefined) throw blobNotFound(id);
    const damaged = part.slice();
    damaged[offset % PART]! ^= 0xff;
    await this.db.put(key, damaged);
  }

  /** Test hook: the parts and uploads stored, as `p!upload!n` and `u!upload` keys. */
  async storedKeysForTesting(): Promise<string[]> {
    return this.db.keys({ gte: 'p!', lt: 'v' }).all();
  }

  /** Test hook: sweeps uploads started before `before` (ms since the epoch), as an open does. */
  sweepForTesting(before: number): Promise<void> {
    return this.sweepStaleUploads(before);
  }
}
