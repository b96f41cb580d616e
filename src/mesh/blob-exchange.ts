// `/refuge/blobs/1.0.0`: blobs between nodes — `have` (which of these ids do you hold), `get` (stream
// one, verified against its id), `want` (fetch what I lack from a peer that has it), and `put` /
// `offer` (send a peer what it lacks). Large transfers cut mid-blob continue from the bytes kept.

import '#mesh/node20-shim';
import type { Stream } from '@libp2p/interface';
import { isBlobId, type BlobId, type BlobStore, type PutResult, type StagingArea } from '../blobs/core.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/core.ts';
import { BlobTransfers, type Attempt, type BlobResumeOptions } from './blob-resume.ts';
import { blobHandler } from './blob-serve.ts';
import { BLOB_PROTOCOL, MAX_IDS, WAIT_MS, framed, framesOf, isCount, writeFrames, type BlobRequest, type Lp } from './blob-wire.ts';
import { RefReach } from './ref-reach.ts';
import type { StreamOpener } from './mesh-peer.ts';
import type { TrustStore } from './trust-store.ts';
import { answerError, decodeJson, encodeJson } from './wire.ts';

export { BLOB_PROTOCOL, type BlobRequest };
export type { BlobResumeOptions };

export interface BlobExchangeOptions {
  trust: TrustStore;
  /** The local store served to peers and filled by fetches. */
  node?: RefugeNode;
  /** Largest blob a peer may send (default 4 GiB). */
  maxPutBytes?: number;
  /** Staging of partial blobs and retries of cut transfers. */
  resume?: BlobResumeOptions;
}

interface RequestOptions {
  signal?: AbortSignal | undefined;
  /** The data a put sends after its request. */
  body?: (lp: Lp) => Promise<void>;
  /** What the retry loop learns of this try. */
  attempt?: Attempt;
}

/** How long a put whose data could not be sent looks for the refusal that cut it (already buffered when there is one). */
const EARLY_ANSWER_MS = 1000;

const bad = (reason: string) => new RefugeError('bad_request', reason);
const garbage = (peerId: string, op: string) => new RefugeError('unavailable', `peer ${peerId} answered garbage to ${op}`);

export class BlobExchange {
  /** Largest blob a peer may put here in one go. */
  private readonly maxPutBytes: number;
  private readonly transfers: BlobTransfers;

  constructor(
    private readonly mesh: StreamOpener,
    private readonly options: BlobExchangeOptions,
  ) {
    this.maxPutBytes = options.maxPutBytes ?? 4 * 1024 * 1024 * 1024;
    this.transfers = new BlobTransfers(options.node, options.resume);
    const reach = options.node ? new RefReach(options.node) : undefined;
    this.handler = blobHandler({ trust: options.trust, node: options.node, reach, transfers: this.transfers, maxPutBytes: this.maxPutBytes });
  }

  /**
   * Serves this node's blobs to trusted peers holding some read grant (see canReadBlobs), and to
   * any peer the blobs of the trees of refs it may read (public refs to strangers).
   */
  readonly handler: ReturnType<typeof blobHandler>;

  /** The local store fetches fill (pulls inline attachments from it). */
  get store(): BlobStore | undefined {
    return this.options.node?.blobs;
  }

  /** Where partial blobs of cut transfers (fetched or pushed here) wait to be continued. */
  staging(): Promise<StagingArea> {
    return this.transfers.area();
  }

  /** Bytes of blob `id` kept from a cut transfer, waiting for it to continue (0: none). */
  async partial(id: BlobId): Promise<number> {
    return (await (await this.transfers.area()).find(id))?.offset ?? 0;
  }

  /** Which of `ids` a peer holds: its size, or null. */
  async have(peerId: string, ids: readonly BlobId[], options: { signal?: AbortSignal } = {}): Promise<Array<{ size: number } | null>> {
    return this.request(peerId, { op: 'have', ids: [...ids] }, options, async (result) => {
      if (!Array.isArray(result) || result.length !== ids.length) throw garbage(peerId, 'have');
      return result.map((s) => (s && typeof (s as { size?: unknown }).size === 'number' ? { size: (s as { size: number }).size } : null));
    });
  }

  /**
   * Copies one blob from a peer into the local store. The bytes are
   * stored only if ALL of them hash to `id` (`hash_mismatch` otherwise: nothing is stored, nothing
   * stays staged). Blobs of `resume.minBytes` and more are staged as they arrive: a cut transfer is
   * tried again from the bytes kept (also by a later fetch, from any peer), a bounded number of times.
   */
  async fetch(peerId: string, id: BlobId, options: { signal?: AbortSignal; maxSize?: number } = {}): Promise<PutResult> {
    const store = this.options.node?.blobs;
    if (!store) throw new RefugeError('unavailable', 'this mesh node has no blob store');
    if (!isBlobId(id)) throw bad('not a blob id');
    return this.transfers.exclusive(id, () => this.transfers.retrying(options.signal, (attempt) => this.fetchOnce(peerId, id, store, options, attempt)));
  }

  private async fetchOnce(peerId: string, id: BlobId, store: BlobStore, options: { signal?: AbortSignal; maxSize?: number }, attempt: Attempt): Promise<PutResult> {
    const area = await this.transfers.area();
    let staged = await area.find(id);
    const offset = staged?.offset ?? 0;
    attempt.start = offset;
    const direct = await this.request(peerId, { op: 'get', id, ...(offset > 0 && { offset }) }, { signal: options.signal, attempt }, async (result, lp) => {
      const r = result as { size?: unknown; offset?: unknown } | null;
      // A peer that predates offsets sends the whole blob and says nothing of where it starts.
      const from = r?.offset ?? 0;
      if (!isCount(r?.size) || !isCount(from) || (from !== 0 && from !== offset) || from > r.size) throw garbage(peerId, 'get');
      const size = r.size;
      if (options.maxSize !== undefined && size > options.maxSize) throw new RefugeError('too_large', `blob ${id} is ${size} bytes, more than ${options.maxSize}`);
      if (staged && (from === 0 || staged.meta.size !== size)) {
        // Starting over, or the staged bytes were announced as part of another size: they go.
        await area.discard(id);
        staged = null;
        if (from !== 0) throw new RefugeError('unavailable', `peer ${peerId} announced ${size} bytes for ${id}, not the size its staged bytes came with`);
      }
      attempt.start = from;
      const frames = framesOf(lp, size - from, `peer ${peerId}`, id, options.signal);
      if (!staged && (size < this.transfers.minBytes || !(await this.transfers.stage(id, size, peerId)))) {
        return store.put(frames, { expectedId: id, maxSize: size, ...(options.signal && { signal: options.signal }) });
      }
      let appended;
      try {
        appended = await area.append(id, from, frames);
      } catch (err) {
        if (isRefugeError(err, 'hash_mismatch')) await area.discard(id); // more bytes than announced
        throw err;
      }
      if (appended.aborted) {
        throw new RefugeError('unavailable', `the transfer of ${id} from peer ${peerId} was cut at byte ${appended.offset} of ${size} (kept to continue)`, { cause: appended.cause });
      }
      return undefined;
    }).catch(async (err: unknown) => {
      // The peer holds fewer bytes than are staged (they came with a wrong size): start over.
      if (offset === 0 || !isRefugeError(err, 'bad_request')) throw err;
      await area.discard(id);
      throw new RefugeError('unavailable', `peer ${peerId} refused to continue ${id} from byte ${offset}: ${err.reason}`, { cause: err });
    });
    // The stream is done: the staged bytes are verified whole into the store (or dropped), and the
    // store writes from a local file, not for as long as a slow link takes.
    return direct ?? area.finish(id, store, { expectedId: id, discardOnMismatch: true });
  }

  /**
   * Sends one local blob to a peer, which stores it only if the bytes match `id` (and refuses unless
   * this node may write a database there). True when the peer did not have it. A large blob whose
   * push was cut continues from the bytes the peer kept, as `fetch` does.
   */
  async send(peerId: string, id: BlobId, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const store = this.options.node?.blobs;
    if (!store) throw new RefugeError('unavailable', 'this mesh node has no blob store');
    const [stat] = await store.stat([id]);
    if (!stat) throw new RefugeError('not_found', `blob ${id} not found`);
    const size = stat.size;
    const signal = options.signal;
    return this.transfers.retrying(signal, async (attempt) => {
      const offset = size < this.transfers.minBytes ? 0 : await this.stagedAt(peerId, id, size, signal, attempt);
      if (offset === 'stored') return false;
      attempt.start = offset;
      const read = offset < size ? await store.get(id, { ...(offset > 0 && { start: offset }), ...(signal && { signal }) }) : undefined;
      const req: BlobRequest = { op: 'put', id, size, ...(offset > 0 && { offset }) };
      return this.request(peerId, req, { signal, attempt, body: (lp) => writeFrames(lp, read, signal) }, async (result) => (result as { created?: unknown } | null)?.created === true);
    });
  }

  /** How many bytes of a push of `id` the peer kept, or 'stored' when it holds the blob. */
  private async stagedAt(peerId: string, id: BlobId, size: number, signal: AbortSignal | undefined, attempt: Attempt): Promise<number | 'stored'> {
    try {
      return await this.request(peerId, { op: 'staged', id, size }, { signal, attempt }, async (result) => {
        const r = result as { offset?: unknown; stored?: unknown } | null;
        if (r?.stored === true) return 'stored';
        if (!isCount(r?.offset) || r.offset > size) throw garbage(peerId, 'staged');
        return r.offset;
      });
    } catch (err) {
      // A peer that predates resumable pushes refuses the question: it gets the whole blob.
      if (isRefugeError(err, 'bad_request')) return 0;
      throw err;
    }
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

  /** Removes the temp staging area of a node without a data directory (a node with one keeps it). */
  close(): Promise<void> {
    return this.transfers.close();
  }

  /**
   * One request on a fresh stream: the request, then (a put) the data `body` writes, then the answer,
   * which `then` reads on from. The wait for the answer starts after the data went out.
   */
  private async request<T>(peerId: string, req: BlobRequest, options: RequestOptions, then: (result: unknown, lp: Lp) => Promise<T>): Promise<T> {
    const signal = options.signal;
    const waitFor = () => AbortSignal.any([AbortSignal.timeout(WAIT_MS), ...(signal ? [signal] : [])]);
    let wait = waitFor();
    let stream: Stream | undefined;
    try {
      stream = await this.mesh.openStream(peerId, BLOB_PROTOCOL, wait);
      if (options.attempt) options.attempt.reached = true;
      const lp = framed(stream);
      await lp.write(encodeJson(req), { signal: wait });
      if (options.body) {
        try {
          await options.body(lp);
        } catch (err) {
          // A receiver that refuses a put answers at once and resets the stream: its answer says why.
          const early = await lp
            .read({ signal: AbortSignal.timeout(EARLY_ANSWER_MS) })
            .then((frame) => decodeJson(frame) as { ok?: unknown; error?: unknown; reason?: unknown } | null)
            .catch(() => null);
          if (early !== null && typeof early === 'object' && early.ok !== true) throw answerError(early);
          throw err;
        }
        wait = waitFor();
      }
      const answer = decodeJson(await lp.read({ signal: wait })) as { ok?: unknown; result?: unknown; error?: unknown; reason?: unknown } | null;
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
