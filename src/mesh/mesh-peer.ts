// The client side of `/refuge/replication/1.x`: a remote node's database as a ReplicationPeer, so
// the ordinary replicator (replicate, sync) runs over the mesh's encrypted, authenticated streams.

import '#mesh/node20-shim';
import type { Stream } from '@libp2p/interface';
import type { BulkGetRequest, BulkGetResult, Doc, RevsDiffEntry, RevsDiffResult } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type {
  CallOptions,
  PeerCapabilities,
  PeerChanges,
  PeerChangesRequest,
  PeerInfo,
  PeerWriteResult,
  ReplicationPeer,
} from '../replication/index.ts';
import { timeoutSignal } from '../replication/retry.ts';
import { withBase64 } from '../replication/index.ts';
import { attachmentsAsBlobs, fetchAttachments, type AttachmentBlobs } from './attachment-fetch.ts';
import { FeedReader } from './changes-feed.ts';
import { DEFAULT_MAX_ANSWER_BYTES, REPLICATION_PROTOCOL, REPLICATION_PROTOCOL_MANY, type ReplicationRequest, type SharedDb } from './replication-protocol.ts';
import type { PooledStream, StreamPool } from './stream-pool.ts';
import { answerError, frames } from './wire.ts';

/** What a MeshPeer needs from the mesh: a fresh stream to a peer for a protocol (the first of a list it speaks). */
export interface StreamOpener {
  /** `dial: false`: only over a connection already open (else `unavailable`). */
  openStream(peerId: string, protocol: string | string[], signal?: AbortSignal, options?: { dial?: boolean }): Promise<Stream>;
  /** Idle streams of protocols that allow several requests per stream (a MeshNode has one). */
  readonly streamPool?: StreamPool;
}

export interface MeshPeerOptions {
  /** Time for one answer, on top of a long-poll's own wait (default 60 s). */
  requestTimeoutMs?: number;
  maxAnswerBytes?: number;
  /**
   * Where pulled attachments go: answers then carry stubs and the blobs this node lacks come over
   * the blob protocol. Default: the opener's own `blobs` (a MeshNode's) when it has a store; false: inline base64.
   */
  blobs?: AttachmentBlobs | false;
  /**
   * false: requests go only over a connection already open, never dialling the peer (AutoSync's pulls:
   * a peer that went away is not called back by a request that was on its way). Default true.
   */
  dial?: boolean;
}

/**
 * Sends one request and returns the answer's result; transport failures are `unavailable`. Replication
 * requests go over `/refuge/replication/1.1.0` on an idle stream from the opener's pool when there
 * is one (else a new stream, falling back to 1.0.0 with a peer that only speaks that); other
 * protocols (`options.protocol`) get a fresh stream each.
 */
export async function meshRequest(
  mesh: StreamOpener,
  peerId: string,
  request: ReplicationRequest | Record<string, unknown>,
  options: { signal?: AbortSignal; timeoutMs: number; maxAnswerBytes?: number; protocol?: string; dial?: boolean },
): Promise<unknown> {
  const wait = timeoutSignal(options.signal, options.timeoutMs);
  const maxBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  const pool = options.protocol === undefined ? mesh.streamPool : undefined;
  const open = async (): Promise<PooledStream> => {
    let stream: Stream;
    try {
      const protocol = options.protocol ?? (pool ? [REPLICATION_PROTOCOL_MANY, REPLICATION_PROTOCOL] : REPLICATION_PROTOCOL);
      stream = await mesh.openStream(peerId, protocol, wait.signal, options.dial === false ? { dial: false } : undefined);
    } catch (err) {
      if (isRefugeError(err)) throw err;
      throw new RefugeError('unavailable', `cannot reach peer ${peerId}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    return { stream, io: frames(stream, maxBytes), idleSince: 0 };
  };
  let entry: PooledStream | undefined;
  try {
    entry = pool?.take(peerId, REPLICATION_PROTOCOL_MANY);
    if (entry) {
      try {
        await entry.io.write(request, wait.signal);
      } catch (err) {
        // The idle stream was closed under us before the request went out: a new one, once.
        if (wait.signal.aborted) throw err;
        entry.stream.abort(new Error('stale pooled stream'));
        entry = await open();
        await entry.io.write(request, wait.signal);
      }
    } else {
      entry = await open();
      await entry.io.write(request, wait.signal);
    }
    const answer = (await entry.io.read(wait.signal)) as { ok?: unknown; result?: unknown; error?: unknown; reason?: unknown } | null;
    if (answer === null || typeof answer !== 'object') throw new RefugeError('unavailable', `peer ${peerId} answered garbage`);
    const done = entry;
    entry = undefined;
    if (pool && done.stream.protocol === REPLICATION_PROTOCOL_MANY) pool.give(peerId, done);
    else done.stream.close().catch(() => undefined);
    if (answer.ok !== true) throw answerError(answer);
    return answer.result;
  } catch (err) {
    // The caller's abort (a cancelled replication) or our timeout is the real reason, not the reset.
    if (wait.signal.aborted && !isRefugeError(err, 'forbidden')) {
      const reason: unknown = wait.signal.reason;
      throw isRefugeError(reason) ? reason : new RefugeError('closed', 'the request was aborted', { cause: err });
    }
    throw err;
  } finally {
    entry?.stream.abort(new Error('request abandoned'));
    wait.clear();
  }
}

type StoredBlobs = AttachmentBlobs & { store: NonNullable<AttachmentBlobs['store']> };

export class MeshPeer implements ReplicationPeer {
  // changesDocs: a server that predates it ignores the ask, and the rows come without docs.
  readonly capabilities: PeerCapabilities = { bulkGet: true, selector: true, longpoll: true, changesDocs: true, attachmentBytes: true };
  private readonly timeoutMs: number;
  /** Cleared when the peer refuses us its blobs (we are not trusted there): inline from then on. */
  private blobs: StoredBlobs | undefined;
  /** Cleared when the peer refuses blobs from us: pushes carry base64 from then on. */
  private pushBlobs = true;
  /** Normal changes feeds read on batch after batch come through a feed the source pushes. */
  private readonly feeds: FeedReader;

  constructor(
    private readonly mesh: StreamOpener,
    readonly peerId: string,
    readonly dbName: string,
    private readonly options: MeshPeerOptions = {},
  ) {
    this.timeoutMs = options.requestTimeoutMs ?? 60_000;
    const blobs = options.blobs === false ? undefined : (options.blobs ?? (mesh as { blobs?: AttachmentBlobs }).blobs);
    if (blobs?.store) this.blobs = blobs as StoredBlobs;
    this.feeds = new FeedReader(mesh, {
      peerId,
      db: dbName,
      timeoutMs: this.timeoutMs,
      maxAnswerBytes: options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES,
      ...(options.dial === false && { dial: false }),
    });
  }

  /** The replication id input: this peer's database, whatever addresses it is reached at. */
  identity(): Promise<string> {
    return Promise.resolve(`mesh:${this.peerId}/${encodeURIComponent(this.dbName)}`);
  }

  private call(op: ReplicationRequest['op'], params: Record<string, unknown>, signal?: AbortSignal, extraMs = 0): Promise<unknown> {
    return meshRequest(this.mesh, this.peerId, { op, db: this.dbName, ...params }, {
      ...(signal && { signal }),
      timeoutMs: this.timeoutMs + extraMs,
      ...(this.options.maxAnswerBytes !== undefined && { maxAnswerBytes: this.options.maxAnswerBytes }),
      ...(this.options.dial === false && { dial: false }),
    });
  }

  async info(options: CallOptions = {}): Promise<PeerInfo> {
    return (await this.call('info', {}, options.signal)) as PeerInfo;
  }

  changes(req: PeerChangesRequest): Promise<PeerChanges> {
    return this.feeds.changes(req, async ({ signal, ...params }) => {
      const longpoll = params.feed === 'longpoll' ? (params.timeoutMs ?? 30_000) : 0;
      return (await this.call('changes', { ...params }, signal, longpoll)) as PeerChanges;
    });
  }

  async revsDiff(request: ReadonlyMap<string, string[]>, options: CallOptions = {}): Promise<Map<string, RevsDiffEntry>> {
    const answer = await this.call('revsDiff', { revs: Object.fromEntries(request) }, options.signal);
    const bad = () => new RefugeError('bad_gateway', `peer ${this.peerId}: not a revsDiff answer`);
    if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) throw bad();
    const out = new Map<string, RevsDiffEntry>();
    for (const [id, entry] of Object.entries(answer as RevsDiffResult)) {
      if (entry === null || typeof entry !== 'object' || !Array.isArray(entry.missing)) throw bad();
      out.set(id, entry);
    }
    return out;
  }

  async bulkGet(requests: readonly BulkGetRequest[], options: { revs: true; latest: true } & CallOptions): Promise<BulkGetResult> {
    const blobs = this.blobs;
    if (blobs) {
      const result = (await this.call('bulkGet', { docs: requests, attachments: 'stubs' }, options.signal)) as BulkGetResult;
      try {
        await fetchAttachments(result, this.peerId, blobs, options.signal);
        return result;
      } catch (err) {
        if (!isRefugeError(err, 'forbidden')) throw err;
        this.blobs = undefined;
      }
    }
    return (await this.call('bulkGet', { docs: requests }, options.signal)) as BulkGetResult;
  }

  async bulkDocs(docs: readonly Doc[], options: { newEdits: false } & CallOptions): Promise<PeerWriteResult[]> {
    const blobs = this.pushBlobs ? this.blobs : undefined;
    if (blobs?.offer) {
      const byBlob = await attachmentsAsBlobs(docs, blobs.store);
      if (byBlob) {
        try {
          await blobs.offer(this.peerId, byBlob.ids, options.signal ? { signal: options.signal } : {});
          return (await this.call('bulkDocs', { docs: byBlob.docs, attachments: 'blobs' }, options.signal)) as PeerWriteResult[];
        } catch (err) {
          // The peer takes no blobs from us (not trusted to write there): base64 from now on.
          if (!isRefugeError(err, 'forbidden')) throw err;
          this.pushBlobs = false;
        }
      }
    }
    return (await this.call('bulkDocs', { docs: await withBase64(docs) }, options.signal)) as PeerWriteResult[];
  }

  async getLocal(id: string, options: CallOptions = {}): Promise<Doc | undefined> {
    return ((await this.call('getLocal', { id }, options.signal)) as Doc | null) ?? undefined;
  }

  async putLocal(doc: Doc, options: CallOptions = {}): Promise<{ rev: string }> {
    return (await this.call('putLocal', { doc }, options.signal)) as { rev: string };
  }
}

/** The databases `peerId` lets this node read or write, with what it may do with each. */
export async function sharedDbs(mesh: StreamOpener, peerId: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SharedDb[]> {
  const result = await meshRequest(mesh, peerId, { op: 'dbs' }, { ...(options.signal && { signal: options.signal }), timeoutMs: options.timeoutMs ?? 60_000 });
  if (!Array.isArray(result)) throw new RefugeError('unavailable', `peer ${peerId} answered garbage to dbs`);
  return result as SharedDb[];
}
