// `/refuge/blobs/1.0.0`: blobs between nodes — `have` (which of these ids do you hold), `get` (stream
// one, verified against its id as it arrives), `want` (fetch what I lack from a peer that has it),
// and `put` / `offer` (send a peer what it lacks: pushes of documents whose attachments it will need).

import './node20-shim.ts';
import type { Connection, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { isBlobId, type BlobId } from '../blobs/id.ts';
import type { BlobStore, PutResult } from '../blobs/types.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/index.ts';
import { canReadBlobs, canWriteBlobs } from './grants.ts';
import { RefReach } from './ref-reach.ts';
import type { StreamOpener } from './mesh-peer.ts';
import type { TrustStore } from './trust-store.ts';
import { answerError, decodeJson, encodeJson, errorAnswer } from './wire.ts';

export const BLOB_PROTOCOL = '/refuge/blobs/1.0.0';
/** Bytes per data frame; a zero-length frame ends the blob. */
const CHUNK = 256 * 1024;
const MAX_CONTROL_BYTES = 1024 * 1024;
const MAX_IDS = 10_000;
const WAIT_MS = 30_000;

export type BlobRequest = { op: 'have'; ids: BlobId[] } | { op: 'get'; id: BlobId } | { op: 'put'; id: BlobId; size: number };

export interface BlobExchangeOptions {
  trust: TrustStore;
  /** The local store served to peers and filled by fetches. */
  node?: RefugeNode;
  /** Largest blob a peer may send (default 4 GiB). */
  maxPutBytes?: number;
}

const bad = (reason: string) => new RefugeError('bad_request', reason);

function checkRequest(value: unknown): BlobRequest {
  const r = value as { op?: unknown; ids?: unknown; id?: unknown } | null;
  if (r?.op === 'have' && Array.isArray(r.ids) && r.ids.length <= MAX_IDS && r.ids.every(isBlobId)) return { op: 'have', ids: r.ids };
  if (r?.op === 'get' && isBlobId(r.id)) return { op: 'get', id: r.id };
  const size = (r as { size?: unknown } | null)?.size;
  if (r?.op === 'put' && isBlobId(r.id) && Number.isSafeInteger(size) && (size as number) >= 0) return { op: 'put', id: r.id, size: size as number };
  throw bad(`a blob request is {op:"have", ids:[≤${MAX_IDS} blob ids]}, {op:"get", id} or {op:"put", id, size}`);
}

/**
 * The data frames of one blob, `size` bytes announced, ended by an empty frame; more or fewer bytes
 * than announced fail it (the store then keeps nothing).
 */
async function* framesOf(lp: ReturnType<typeof lpStream>, size: number, who: string, id: BlobId): AsyncGenerator<Uint8Array> {
  let total = 0;
  for (;;) {
    const frame = (await lp.read({ signal: AbortSignal.timeout(WAIT_MS) })).subarray();
    if (frame.length === 0) break;
    total += frame.length;
    if (total > size) throw new RefugeError('hash_mismatch', `${who} sent more bytes than the ${size} it announced for ${id}`);
    yield frame;
  }
  if (total !== size) throw new RefugeError('hash_mismatch', `${who} sent ${total} bytes of the ${size} it announced for ${id}`);
}

export class BlobExchange {
  /** Largest blob a peer may put here in one go. */
  private readonly maxPutBytes: number;

  constructor(
    private readonly mesh: StreamOpener,
    private readonly options: BlobExchangeOptions,
  ) {
    this.maxPutBytes = options.maxPutBytes ?? 4 * 1024 * 1024 * 1024;
    this.reach = options.node ? new RefReach(options.node) : undefined;
  }

  /** The trees of the node's refs, for peers that may read a ref but no blob otherwise. */
  private readonly reach: RefReach | undefined;

  /** The local store fetches fill (pulls inline attachments from it). */
  get store(): BlobStore | undefined {
    return this.options.node?.blobs;
  }

  /**
   * Serves this node's blobs to trusted peers holding some read grant (see canReadBlobs), and to
   * any peer the blobs of the trees of refs it may read (public refs to strangers).
   */
  readonly handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString();
    const lp = lpStream(stream, { maxDataLength: MAX_CONTROL_BYTES, maxBufferSize: MAX_CONTROL_BYTES + 16 });
    try {
      let answered = false;
      try {
        const req = checkRequest(decodeJson((await lp.read({ signal: AbortSignal.timeout(WAIT_MS) })).subarray()));
        const node = this.options.node;
        if (!node) throw new RefugeError('not_found', 'this node serves no blobs');
        const state = await this.options.trust.current();
        if (req.op === 'put') {
          // Blobs come only from peers that may write a database here (their documents will need them).
          if (!canWriteBlobs(state, peer, await node.allDbs())) throw new RefugeError('forbidden', `peer ${peer} may not store blobs here`);
          if (req.size > this.maxPutBytes) throw new RefugeError('too_large', `blob ${req.id} is ${req.size} bytes, more than ${this.maxPutBytes}`);
          // A failure (bytes that are not the blob) is answered: the sender reads the answer after its data.
          const put = await node.blobs.put(framesOf(lp, req.size, `peer ${peer}`, req.id), { expectedId: req.id, maxSize: req.size });
          await lp.write(encodeJson({ ok: true, result: { created: put.created } }));
          await stream.close();
          return;
        }
        const dbs = await node.allDbs();
        // Which blobs are here: readers, and writers about to push (to send only what is missing);
        // anyone else only of blobs in the tree of a ref it may read (a public ref's, for strangers).
        const asked = req.op === 'have' ? req.ids : [req.id];
        const reader = canReadBlobs(state, peer, dbs) || (req.op === 'have' && canWriteBlobs(state, peer, dbs));
        if (!reader && !(await this.reach!.allows(state, peer, asked))) {
          throw new RefugeError('forbidden', `peer ${peer} may not ${req.op === 'have' ? 'ask for' : 'read'} blobs here`);
        }
        if (req.op === 'have') {
          await lp.write(encodeJson({ ok: true, result: await node.blobs.stat(req.ids) }));
        } else {
          const read = await node.blobs.get(req.id);
          answered = true;
          await lp.write(encodeJson({ ok: true, result: { size: read.size } }));
          for await (const chunk of read) {
            for (let at = 0; at < chunk.length; at += CHUNK) await lp.write(chunk.subarray(at, at + CHUNK));
          }
          await lp.write(new Uint8Array(0));
        }
      } catch (err) {
        // Once bytes flow, a failure (a corrupt local copy) can only cut the stream: the reader refuses it.
        if (answered) throw err;
        await lp.write(encodeJson(errorAnswer(err)));
      }
      await stream.close();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };

  /** Which of `ids` a peer holds: its size, or null. */
  async have(peerId: string, ids: readonly BlobId[], options: { signal?: AbortSignal } = {}): Promise<Array<{ size: number } | null>> {
    return this.request(peerId, { op: 'have', ids: [...ids] }, options.signal, async (result) => {
      if (!Array.isArray(result) || result.length !== ids.length) throw new RefugeError('unavailable', `peer ${peerId} answered garbage to have`);
      return result.map((s) => (s && typeof (s as { size?: unknown }).size === 'number' ? { size: (s as { size: number }).size } : null));
    });
  }

  /**
   * Copies one blob from a peer into the local store. The bytes are hashed as they arrive and stored
   * only if they match `id` (`hash_mismatch` otherwise: nothing is stored).
   */
  async fetch(peerId: string, id: BlobId, options: { signal?: AbortSignal; maxSize?: number } = {}): Promise<PutResult> {
    const store = this.options.node?.blobs;
    if (!store) throw new RefugeError('unavailable', 'this mesh node has no blob store');
    if (!isBlobId(id)) throw bad('not a blob id');
    return this.request(peerId, { op: 'get', id }, options.signal, async (result, lp) => {
      const announced = (result as { size?: unknown } | null)?.size;
      if (typeof announced !== 'number' || !Number.isSafeInteger(announced) || announced < 0) throw new RefugeError('unavailable', `peer ${peerId} answered garbage to get`);
      const size: number = announced;
      if (options.maxSize !== undefined && size > options.maxSize) throw new RefugeError('too_large', `blob ${id} is ${size} bytes, more than ${options.maxSize}`);
      return store.put(framesOf(lp, size, `peer ${peerId}`, id), { expectedId: id, maxSize: size, ...(options.signal && { signal: options.signal }) });
    });
  }

  /**
   * Sends one local blob to a peer, which stores it only if the bytes match `id` (and refuses unless
   * this node may write a database there). True when the peer did not have it.
   */
  async send(peerId: string, id: BlobId, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const store = this.options.node?.blobs;
    if (!store) throw new RefugeError('unavailable', 'this mesh node has no blob store');
    const read = await store.get(id, options.signal ? { signal: options.signal } : {});
    const data = async (lp: ReturnType<typeof lpStream>) => {
      for await (const chunk of read) {
        for (let at = 0; at < chunk.length; at += CHUNK) await lp.write(chunk.subarray(at, at + CHUNK), { signal: options.signal });
      }
      await lp.write(new Uint8Array(0), { signal: options.signal });
    };
    return this.request(peerId, { op: 'put', id, size: read.size }, options.signal, async (result) => (result as { created?: unknown } | null)?.created === true, data);
  }

  /** Sends the blobs among `ids` that the peer lacks (asked first with one `have`); how many went. */
  async offer(peerId: string, ids: readonly BlobId[], options: { signal?: AbortSignal } = {}): Promise<number> {
    let sent = 0;
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      const batch = ids.slice(i, i + MAX_IDS);
      const theirs = await this.have(peerId, batch, options);
      for (let j = 0; j < batch.length; j++) if (theirs[j] === null && (await this.send(peerId, batch[j]!, options))) sent++;
    }
    return sent;
  }

  /** Fetches the blobs among `ids` that this node lacks and the peer has; reports what it could not get. */
  async want(peerId: string, ids: readonly BlobId[], options: { signal?: AbortSignal } = {}): Promise<{ fetched: BlobId[]; missing: BlobId[] }> {
    const store = this.options.node?.blobs;
    if (!store) throw new RefugeError('unavailable', 'this mesh node has no blob store');
    const local = await store.stat(ids);
    const lacking = ids.filter((_, i) => local[i] === null);
    const remote = lacking.length === 0 ? [] : await this.have(peerId, lacking, options);
    const fetched: BlobId[] = [];
    const missing: BlobId[] = [];
    for (let i = 0; i < lacking.length; i++) {
      if (remote[i] === null) missing.push(lacking[i]!);
      else fetched.push((await this.fetch(peerId, lacking[i]!, options)).id);
    }
    return { fetched, missing };
  }

  /**
   * One request on a fresh stream: the request, then (a put) the data `body` writes, then the answer,
   * which `then` reads on from. The wait for the answer starts after the data went out.
   */
  private async request<T>(
    peerId: string,
    req: BlobRequest,
    signal: AbortSignal | undefined,
    then: (result: unknown, lp: ReturnType<typeof lpStream>) => Promise<T>,
    body?: (lp: ReturnType<typeof lpStream>) => Promise<void>,
  ): Promise<T> {
    const waitFor = () => AbortSignal.any([AbortSignal.timeout(WAIT_MS), ...(signal ? [signal] : [])]);
    let wait = waitFor();
    let stream: Stream | undefined;
    try {
      stream = await this.mesh.openStream(peerId, BLOB_PROTOCOL, wait);
      const lp = lpStream(stream, { maxDataLength: Math.max(MAX_CONTROL_BYTES, CHUNK), maxBufferSize: Math.max(MAX_CONTROL_BYTES, CHUNK) + 16 });
      await lp.write(encodeJson(req), { signal: wait });
      if (body) {
        await body(lp);
        wait = waitFor();
      }
      const answer = decodeJson((await lp.read({ signal: wait })).subarray()) as { ok?: unknown; result?: unknown; error?: unknown; reason?: unknown } | null;
      if (answer === null || typeof answer !== 'object') throw new RefugeError('unavailable', `peer ${peerId} answered garbage`);
      if (answer.ok !== true) throw answerError(answer);
      const out = await then(answer.result, lp);
      await stream.close().catch(() => undefined);
      stream = undefined;
      return out;
    } catch (err) {
      if (isRefugeError(err)) throw err;
      throw new RefugeError('unavailable', `blob exchange with ${peerId} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    } finally {
      stream?.abort(new Error('blob request abandoned'));
    }
  }
}
