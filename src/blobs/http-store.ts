// A BlobStore over a Refuge node's blob HTTP API (`/_blobs`), portable (fetch and web streams only),
// so a browser or another node can sync with it. Reads are verified here too; puts are verified there.

import { RefugeError, badRequest } from '../errors/index.ts';
import { MAX_LIST_LIMIT, DEFAULT_RANGE_VERIFY_LIMIT } from './base.ts';
import { collectBytes, sliceBytes, unshared, verifyChunks } from './chunks.ts';
import { blobNotFound, storeClosed } from './errors.ts';
import { BlobFeed } from './feed.ts';
import { portableSha256, type HasherFactory } from './hash.ts';
import { parseBlobId, type BlobId } from './id.ts';
import { resolveRange } from './range.ts';
import type {
  BlobCapabilities,
  BlobEvent,
  BlobRead,
  BlobSource,
  BlobStat,
  BlobStore,
  GetOptions,
  ListOptions,
  ListPage,
  PutOptions,
  PutResult,
  ScrubOptions,
  ScrubReport,
  SubscribeOptions,
  VerifyResult,
} from './types.ts';
import { followBlobChanges, type FeedSource } from './http-feed.ts';
import { basicAuth, errorOf, responseChunks, unreachable, uploadStream } from './http-wire.ts';
import { scrubByVerifying } from './scrub.ts';

export interface HttpBlobStoreOptions {
  /** The node's base URL (`http://user:pass@host:port`): credentials move to an Authorization header. */
  url: string;
  /** Extra headers on every request (e.g. a cookie). */
  headers?: Record<string, string>;
  /** How `subscribe` follows `/_blobs/_changes`: 'eventsource' (one stream, default) or 'longpoll'. */
  feed?: 'eventsource' | 'longpoll';
  /** SHA-256 used to verify reads (default the portable one; pass nodeSha256 in Node for speed). */
  hasher?: HasherFactory;
  rangeVerifyLimit?: number;
  /** What the remote store guarantees (unknown over the wire): default persistent, not known durable. */
  capabilities?: Partial<BlobCapabilities>;
  /** First retry delay of a failed change feed (doubles up to 30 s); default 500 ms. */
  retryMs?: number;
  fetch?: typeof fetch;
}

const STAT_BATCH = 10_000;

export class HttpBlobStore implements BlobStore {
  readonly backend = 'http';
  readonly capabilities: BlobCapabilities;
  readonly rangeVerifyLimit: number;
  /** The base URL without credentials. */
  readonly url: string;
  readonly #headers: Record<string, string>;
  readonly #fetch: typeof fetch;
  readonly #hasher: HasherFactory;
  readonly #feedMode: 'eventsource' | 'longpoll';
  readonly #retryMs: number;
  readonly #closing = new AbortController();
  /** Subscriptions still finding their starting point: writes wait for them (see subscribe). */
  readonly #starting = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: HttpBlobStoreOptions) {
    const u = new URL(options.url);
    this.#headers = { ...options.headers };
    if (u.username || u.password) this.#headers.authorization = basicAuth(u.username, u.password);
    u.username = '';
    u.password = '';
    this.url = u.href.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? ((...args) => fetch(...args));
    this.#hasher = options.hasher ?? portableSha256;
    this.#feedMode = options.feed ?? 'eventsource';
    this.#retryMs = options.retryMs ?? 500;
    this.rangeVerifyLimit = options.rangeVerifyLimit ?? DEFAULT_RANGE_VERIFY_LIMIT;
    this.capabilities = { persistent: true, durable: false, ranges: true, atomicPut: true, exclusiveCreate: true, ...options.capabilities };
  }

  #assertOpen(): void {
    if (this.#closed) throw storeClosed(this.backend);
  }

  async #request(method: string, path: string, init: RequestInit & { duplex?: 'half' } = {}, what = `${method} ${path}`): Promise<Response> {
    const headers = { ...this.#headers, ...(init.headers as Record<string, string> | undefined) };
    try {
      return await this.#fetch(this.url + path, { ...init, method, headers } as RequestInit);
    } catch (err) {
      throw unreachable(what, err);
    }
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#request(method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw await errorOf(res, `${method} ${path}`);
    return (await res.json()) as T;
  }

  /** Lets subscriptions opened before a write find their position first, so they see the write. */
  async #afterStarts(): Promise<void> {
    if (this.#starting.size > 0) await Promise.allSettled([...this.#starting]);
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<PutResult> {
    this.#assertOpen();
    const expected = options.expectedId === undefined ? undefined : parseBlobId(options.expectedId);
    const { maxSize, signal } = options;
    if (maxSize !== undefined && (!Number.isSafeInteger(maxSize) || maxSize < 0)) throw badRequest('maxSize must be a non-negative integer');
    signal?.throwIfAborted();
    await this.#afterStarts();
    // The source's own failure (or the size limit) must win over the network error it causes.
    let failure: unknown;
    const abort = new AbortController();
    const signals = signal ? AbortSignal.any([signal, abort.signal]) : abort.signal;
    let body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (source instanceof Uint8Array) {
      if (maxSize !== undefined && source.length > maxSize) throw new RefugeError('too_large', `the blob exceeds ${maxSize} bytes`);
      body = unshared(source);
    } else {
      body = uploadStream(source, maxSize, (err) => {
        failure = err;
        abort.abort(err);
      });
    }
    const path = expected === undefined ? '/_blobs' : `/_blobs/${expected}`;
    let res: Response;
    try {
      res = await this.#request(expected === undefined ? 'POST' : 'PUT', path, { body, headers, signal: signals, duplex: 'half' });
    } catch (err) {
      throw failure ?? (signal?.aborted ? signal.reason : err);
    }
    if (failure !== undefined) throw failure;
    if (!res.ok) throw await errorOf(res, `put ${expected ?? 'blob'}`);
    const json = (await res.json()) as { id: BlobId; size: number };
    return { id: json.id, size: json.size, created: res.status === 201 };
  }

  async get(id: BlobId, options: GetOptions = {}): Promise<BlobRead> {
    this.#assertOpen();
    parseBlobId(id);
    const { signal } = options;
    const ranged = options.start !== undefined || options.end !== undefined;
    let size: number;
    let range = { start: 0, end: 0, full: true };
    let headers: Record<string, string> = {};
    if (ranged) {
      // Ranges are strict and end-exclusive here; HTTP clamps them, so check against the size first.
      const [stat] = await this.stat([id]);
      if (!stat) throw blobNotFound(id);
      size = stat.size;
      range = resolveRange(options, size);
      if (!range.full && size > this.rangeVerifyLimit) headers = { range: `bytes=${range.start}-${range.end - 1}` };
    }
    const res = await this.#request('GET', `/_blobs/${id}`, { headers, ...(signal && { signal }) });
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw await errorOf(res, `get ${id}`);
    }
    const total = Number(res.headers.get('content-range')?.split('/')[1] ?? res.headers.get('content-length'));
    size = total;
    if (!ranged) range = { start: 0, end: size, full: true };
    const verified = range.full || size <= this.rangeVerifyLimit;
    const body = res.body;
    const stream = () => responseChunks(body, id);
    const hasher = this.#hasher;
    let open: () => AsyncIterator<Uint8Array>;
    if (headers.range) open = () => stream();
    else if (range.full) open = () => verifyChunks(stream(), id, size, hasher());
    else {
      const { start, end } = range;
      open = () => (async function* () {
        yield* sliceBytes(await collectBytes(verifyChunks(stream(), id, size, hasher())), start, end);
      })();
    }
    let opened = false;
    return {
      id,
      size,
      start: range.start,
      end: range.end,
      verified,
      [Symbol.asyncIterator]() {
        if (opened) throw new RefugeError('bad_request', 'a blob read can be iterated only once');
        opened = true;
        return open();
      },
    };
  }

  async stat(ids: readonly BlobId[]): Promise<Array<BlobStat | null>> {
    this.#assertOpen();
    if (!Array.isArray(ids)) throw badRequest('stat takes an array of blob ids');
    for (const id of ids) parseBlobId(id);
    const out: Array<BlobStat | null> = [];
    for (let i = 0; i < ids.length; i += STAT_BATCH) {
      const batch = [...new Set(ids.slice(i, i + STAT_BATCH))];
      const { results } = await this.#json<{ results: Record<string, { size: number } | null> }>('POST', '/_blobs/_stat', { ids: batch });
      for (const id of ids.slice(i, i + STAT_BATCH)) {
        const r = results[id];
        out.push(r ? { id, size: r.size } : null);
      }
    }
    return out;
  }

  async has(id: BlobId): Promise<boolean> {
    this.#assertOpen();
    parseBlobId(id);
    const res = await this.#request('HEAD', `/_blobs/${id}`);
    if (res.status === 404) return false;
    if (!res.ok) throw await errorOf(res, `has ${id}`);
    return true;
  }

  /** The remote node keeps its blobs' ages: a reference written there is its own gc's to see. */
  reuse(id: BlobId): Promise<boolean> {
    return this.has(id);
  }

  async delete(id: BlobId): Promise<boolean> {
    this.#assertOpen();
    parseBlobId(id);
    await this.#afterStarts();
    const res = await this.#request('DELETE', `/_blobs/${id}`);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return false;
    }
    if (!res.ok) throw await errorOf(res, `delete ${id}`);
    await res.body?.cancel().catch(() => {});
    return true;
  }

  async list(options: ListOptions = {}): Promise<ListPage> {
    this.#assertOpen();
    const after = options.after === undefined ? undefined : parseBlobId(options.after);
    const limit = options.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) throw badRequest(`list limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
    const q = new URLSearchParams({ limit: String(limit), ...(after !== undefined && { after }) });
    const page = await this.#json<ListPage>('GET', `/_blobs?${q}`);
    return page.next === undefined ? { ids: page.ids } : { ids: page.ids, next: page.next };
  }

  /**
   * Follows `/_blobs/_changes` from "now". A `reset` from the node (it restarted, or this client fell
   * behind its log) arrives as `overflow`: re-enumerate with list(). Network failures are retried.
   */
  subscribe(options: SubscribeOptions = {}): AsyncIterableIterator<BlobEvent> {
    this.#assertOpen();
    const feed = new BlobFeed();
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.#closing.signal, ...(options.signal ? [options.signal] : [])]);
    const sub = feed.subscribe({ ...options, signal });
    if (signal.aborted) return sub;
    let started!: () => void;
    const start = new Promise<void>((resolve) => (started = resolve));
    this.#starting.add(start);
    void start.then(() => this.#starting.delete(start));
    const source: FeedSource = {
      now: async () => (await this.#json<{ last_seq: string }>('GET', '/_blobs/_changes?since=now&limit=0')).last_seq,
      get: async (path, signal) => {
        const res = await this.#request('GET', path, { signal });
        if (!res.ok || !res.body) throw await errorOf(res, 'blob changes');
        return res;
      },
    };
    void followBlobChanges(source, { mode: this.#feedMode, retryMs: this.#retryMs }, feed, signal, started).finally(() => {
      started();
      feed.endAll();
    });
    const ret = sub.return?.bind(sub);
    sub.return = () => {
      stop.abort();
      return ret ? ret() : Promise.resolve({ value: undefined, done: true });
    };
    return sub;
  }

  async verify(id: BlobId, options: { signal?: AbortSignal } = {}): Promise<VerifyResult> {
    this.#assertOpen();
    let read: BlobRead;
    try {
      read = await this.get(id, options);
    } catch (err) {
      if (err instanceof RefugeError && err.code === 'not_found') return { id, status: 'missing' };
      throw err;
    }
    try {
      for await (const _ of read);
      return { id, status: 'ok', size: read.size };
    } catch (err) {
      if (err instanceof RefugeError && err.code === 'hash_mismatch') return { id, status: 'corrupt', size: read.size };
      throw err;
    }
  }

  /** Verifies every blob by reading it over the wire (the node's own scrub is cheaper where it runs). */
  async scrub(options: ScrubOptions = {}): Promise<ScrubReport> {
    this.#assertOpen();
    return scrubByVerifying(this, options);
  }


  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort(storeClosed(this.backend));
  }
}
