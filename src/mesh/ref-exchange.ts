// `/refuge/refs/1.0.0`: signed refs between nodes, under grants (`ref:NAME`, `ref:*`). A peer lists the
// refs it may read and fetches their history; the puller stores each value only if it verifies and
// succeeds the one it holds (RefStore.put), then fetches the blobs of the tree the ref points at.

import '#mesh/node20-shim';
import type { Connection, Stream } from '@libp2p/interface';
import type { BlobId } from '../blobs/id.ts';
import { RefugeError } from '../errors/index.ts';
import { reachableBlobs } from '../files/core.ts';
import type { RefugeNode } from '../node/core.ts';
import { checkRefName, type RefEntry } from '../refs/core.ts';
import type { BlobExchange } from './blob-exchange.ts';
import { canRef, isTrusted } from './grants.ts';
import { meshRequest, type StreamOpener } from './mesh-peer.ts';
import type { TrustStore } from './trust-store.ts';
import { errorAnswer, frames, type Answer } from './wire.ts';

export const REFS_PROTOCOL = '/refuge/refs/1.0.0';
const MAX_REQUEST_BYTES = 4096;
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const WAIT_MS = 30_000;
/** Blob ids asked for at once (the blob protocol's own limit is 10,000). */
const WANT_BATCH = 1000;

export type RefRequest = { op: 'list' } | { op: 'history'; name: string };

export interface RefPull {
  name: string;
  /** Values stored now (newer than what this node held). */
  stored: number;
  /** The root this node now holds for the ref, if any. */
  root?: string;
  /** Blobs of the tree fetched from the peer. */
  fetched: number;
  /** Blobs of the tree neither here nor there (a damaged or partial tree on the peer). */
  missing: BlobId[];
}

function checkRequest(value: unknown): RefRequest {
  const r = value as { op?: unknown; name?: unknown } | null;
  if (r?.op === 'list') return { op: 'list' };
  if (r?.op === 'history') return { op: 'history', name: checkRefName(r.name) };
  throw new RefugeError('bad_request', 'a refs request is {op:"list"} or {op:"history", name}');
}

export class RefExchange {
  constructor(
    private readonly mesh: StreamOpener,
    private readonly options: { trust: TrustStore; node?: RefugeNode; blobs: BlobExchange },
  ) {}

  /** Serves this node's refs: only those the asking peer may read, as if the others did not exist. */
  readonly handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const peerId = connection.remotePeer.toString();
    const io = frames(stream, MAX_REQUEST_BYTES);
    let answer: Answer;
    try {
      const req = checkRequest(await io.read(AbortSignal.timeout(WAIT_MS)));
      answer = { ok: true, result: await this.answer(peerId, req) };
    } catch (err) {
      answer = errorAnswer(err);
    }
    try {
      await io.write(answer);
      await stream.close();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };

  private async answer(peerId: string, req: RefRequest): Promise<unknown> {
    const node = this.options.node;
    if (!node) throw new RefugeError('not_found', 'this node serves no refs');
    const state = await this.options.trust.current();
    if (req.op === 'list') return (await node.refs.list()).filter((name) => canRef(state, peerId, 'read', name));
    if (!canRef(state, peerId, 'read', req.name)) throw new RefugeError('forbidden', `peer ${peerId} may not read ref ${req.name}`);
    const history = await node.refs.history(req.name);
    if (history.length === 0) throw new RefugeError('not_found', `ref ${req.name} not found`);
    // Local notes (a snapshot's source folder) stay local for strangers; trusted peers get them.
    return isTrusted(state, peerId) ? history : history.map(({ ref }) => ({ ref }));
  }

  /** The refs a peer lets this node read. */
  async list(peerId: string, signal?: AbortSignal): Promise<string[]> {
    const result = await this.request(peerId, { op: 'list' }, signal);
    if (!Array.isArray(result) || !result.every((n) => typeof n === 'string')) throw new RefugeError('unavailable', `peer ${peerId} answered garbage to list`);
    return result as string[];
  }

  /** A ref's values on a peer, oldest first (unverified: `pull` verifies before storing). */
  async history(peerId: string, name: string, signal?: AbortSignal): Promise<RefEntry[]> {
    const result = await this.request(peerId, { op: 'history', name: checkRefName(name) }, signal);
    if (!Array.isArray(result)) throw new RefugeError('unavailable', `peer ${peerId} answered garbage to history`);
    return result as RefEntry[];
  }

  /**
   * Copies a ref from a peer: every value newer than this node's (each verified and checked to
   * succeed the last by the ref store: a forged or replayed value is refused), then the blobs of the
   * tree the newest points at.
   */
  async pull(peerId: string, name: string, signal?: AbortSignal): Promise<RefPull> {
    const node = this.options.node;
    if (!node) throw new RefugeError('unavailable', 'this mesh node has no ref store');
    const entries = await this.history(peerId, name, signal);
    const held = (await node.refs.get(name))?.seq ?? 0;
    let stored = 0;
    for (const entry of [...entries].sort((a, b) => (a?.ref?.seq ?? 0) - (b?.ref?.seq ?? 0))) {
      if (entry?.ref?.name !== name) throw new RefugeError('unavailable', `peer ${peerId} sent a value of another ref than ${name}`);
      if (!(entry.ref.seq > held)) continue;
      await node.refs.put(entry.ref, entry.meta);
      stored++;
    }
    const current = await node.refs.get(name);
    if (!current) return { name, stored, fetched: 0, missing: [] };
    const { fetched, missing } = await this.pullTree(peerId, current.root, signal);
    return { name, stored, root: current.root, fetched, missing };
  }

  /** Fetches every blob of the tree under `root` this node lacks, level by level as the tree is walked. */
  async pullTree(peerId: string, root: string, signal?: AbortSignal): Promise<{ fetched: number; missing: BlobId[] }> {
    const store = this.options.node?.blobs;
    if (!store) throw new RefugeError('unavailable', 'this mesh node has no blob store');
    let fetched = 0;
    const fill = async (ids: BlobId[]): Promise<void> => {
      for (let i = 0; i < ids.length; i += WANT_BATCH) {
        fetched += (await this.options.blobs.want(peerId, ids.slice(i, i + WANT_BATCH), signal ? { signal } : {})).fetched.length;
      }
    };
    const { missing } = await reachableBlobs(store, [root], { fill, ...(signal && { signal }) });
    return { fetched, missing };
  }

  private request(peerId: string, req: RefRequest, signal?: AbortSignal): Promise<unknown> {
    return meshRequest(this.mesh, peerId, req, { protocol: REFS_PROTOCOL, timeoutMs: WAIT_MS, maxAnswerBytes: MAX_ANSWER_BYTES, ...(signal && { signal }) });
  }
}
