// The server side of `/refuge/replication/1.0.0`: answers a remote peer's requests against this
// node's databases, checking the trust state on every request (the peer id comes from Noise).

import '#mesh/node20-shim';
import type { Connection, Stream } from '@libp2p/interface';
import type { BulkGetRequest, Doc } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { RefugeNode } from '../node/core.ts';
import { LocalPeer } from '../replication/index.ts';
import { inlineBlobAttachments } from './attachment-fetch.ts';
import { accessOf, isTrusted, sharedWith } from './grants.ts';
import {
  DEFAULT_MAX_REQUEST_BYTES,
  MAX_LONGPOLL_MS,
  OP_ACCESS,
  STREAM_IDLE_MS,
  UNTRUSTED_MAX_REQUEST_BYTES,
  addCredit,
  checkLocalId,
  isOp,
  localWriteAllowed,
  namespacedLocalId,
  type ReplicationRequest,
} from './replication-protocol.ts';
import type { TrustStore } from './trust-store.ts';
import { changesText, errorAnswer, frames, writeUnlessStalled, type Answer, type ChangesText, type Frames } from './wire.ts';

export interface ReplicationServiceOptions {
  node: RefugeNode;
  trust: TrustStore;
  maxRequestBytes?: number;
  /** A trusted peer says what it shares with this node changed (`rescan`). */
  onRescan?: (peerId: string) => void;
  /** How long a stream may wait on its client (a request, a grant, an answer read); default STREAM_IDLE_MS. */
  idleMs?: number;
}

/** A request must arrive this soon after its stream opens. */
const REQUEST_WAIT_MS = 30_000;
const MAX_ITEMS = 10_000;

const bad = (reason: string) => new RefugeError('bad_request', reason);
const forbidden = (peer: string, what: string, db: string) => new RefugeError('forbidden', `peer ${peer} may not ${what} database ${db}`);

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS) throw bad(`${what} must be a list of at most ${MAX_ITEMS}`);
  return value;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(`${what} must be an object`);
  return value as Record<string, unknown>;
}

export class ReplicationService {
  private readonly maxRequestBytes: number;
  private readonly idleMs: number;

  constructor(private readonly options: ReplicationServiceOptions) {
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.idleMs = options.idleMs ?? STREAM_IDLE_MS;
  }

  /** Answers one decoded request from `peerId` (authenticated by the transport). */
  async answer(peerId: string, request: unknown, signal?: AbortSignal): Promise<unknown> {
    const req = object(request, 'a request') as ReplicationRequest;
    if (!isOp(req.op)) throw bad(`unknown operation ${JSON.stringify(req.op)}`);
    const { node, trust } = this.options;
    const state = await trust.current();
    if (req.op === 'dbs') return sharedWith(state, peerId, await node.allDbs());
    if (req.op === 'rescan') {
      // Only a trusted peer's word makes this node look again (and send it requests).
      if (!isTrusted(state, peerId)) throw new RefugeError('forbidden', `peer ${peerId} is not trusted`);
      this.options.onRescan?.(peerId);
      return { ok: true };
    }
    if (typeof req.db !== 'string') throw bad('a request names its database (db)');
    const dbName = req.db;
    const access = accessOf(state, peerId, dbName);
    const need = OP_ACCESS[req.op];
    // Refused before looking the database up, so a stranger cannot probe which databases exist.
    if (!(need === 'either' ? access.read || access.write : access[need])) throw forbidden(peerId, need === 'either' ? 'use' : need, dbName);
    if (req.op === 'putLocal') {
      const doc = object(req.doc, 'doc');
      if (!localWriteAllowed(access, isTrusted(state, peerId), checkLocalId(doc._id))) throw forbidden(peerId, 'write _local documents in', dbName);
    }
    // Held for this one answer (a long-poll's wait included), then free to close (maxOpenDbs).
    const lease = await node.lease(dbName);
    try {
      const peer = new LocalPeer(lease.db, { identity: 'mesh-server' });
      switch (req.op) {
        case 'info':
          return await peer.info();
        case 'changes': {
          const text = await changesText(peer.changesChunks({ ...changesRequest(req, signal), docText: true }));
          // A long-poll may have waited a while: answer only if the grant still holds.
          if (!accessOf(await trust.current(), peerId, dbName).read) throw forbidden(peerId, 'read', dbName);
          return text;
        }
        case 'revsDiff':
          return Object.fromEntries(await peer.revsDiff(new Map(Object.entries(object(req.revs, 'revs') as Record<string, string[]>))));
        case 'bulkGet':
          // Stubs keep attachment bytes off this stream: the asker fetches only the blobs it lacks.
          // Otherwise inline, as base64: the answer is JSON (a LocalPeer hands bytes on unread).
          return await peer.db.bulkGet(bulkGetRequests(req.docs), { revs: true, latest: true, ...(req.attachments !== 'stubs' && { attachments: true }) });
        case 'bulkDocs': {
          const docs = list(req.docs, 'docs') as Doc[];
          // Pushed by blobs: attachments name blobs the pusher sent before (attachment-fetch.ts).
          return await peer.bulkDocs(req.attachments === 'blobs' ? await inlineBlobAttachments(docs, node.blobs) : docs, { newEdits: false });
        }
        case 'getLocal': {
          const id = checkLocalId(req.id);
          const doc = await peer.getLocal(namespacedLocalId(peerId, id));
          return doc === undefined ? null : { ...doc, _id: id };
        }
        case 'putLocal': {
          const doc = req.doc as Doc;
          return await peer.putLocal({ ...doc, _id: namespacedLocalId(peerId, doc._id as string) });
        }
      }
    } finally {
      lease.release();
    }
  }

  /** The libp2p stream handler of 1.0.0: one request, one answer, then the stream closes. */
  readonly handler = (stream: Stream, connection: Connection): Promise<void> => this.serve(stream, connection, false);

  /** The handler of 1.1.0: request, answer, request, answer… until the client closes or goes idle. */
  readonly manyHandler = (stream: Stream, connection: Connection): Promise<void> => this.serve(stream, connection, true);

  /** The handler of the changes feed (CHANGES_FEED_PROTOCOL): batches pushed while the client grants credit. */
  readonly feedHandler = (stream: Stream, connection: Connection): Promise<void> =>
    this.session(stream, connection, async ({ peerId, io, gone }) => {
      const wait = (ms: number) => AbortSignal.any([gone.signal, AbortSignal.timeout(ms)]);
      let first: Record<string, unknown>;
      let credit = 0;
      try {
        first = object(await io.read(wait(REQUEST_WAIT_MS)), 'a changes feed request');
        credit = addCredit(first.credit, credit);
      } catch (err) {
        await io.write(errorAnswer(err), wait(this.idleMs));
        return true;
      }
      // Grants are read as they come, so credit past the cap is refused even while batches go out.
      let refused: unknown;
      let wake: (() => void) | undefined;
      void (async () => {
        for (;;) {
          const frame = await io.read(wait(this.idleMs));
          credit = addCredit(object(frame, 'a credit frame').credit, credit);
          wake?.();
        }
      })().catch((err: unknown) => {
        refused = err;
        wake?.();
      });
      const { credit: _c, op: _op, ...params } = first;
      const limit = params.limit ?? 500;
      let since = params.since;
      for (;;) {
        while (credit === 0 && refused === undefined) await new Promise<void>((resolve) => (wake = resolve));
        if (refused !== undefined) {
          // A bad grant is answered; a client that closed or went quiet just ends the feed.
          if (!isRefugeError(refused, 'bad_request')) {
            stream.abort(new Error('the changes feed got no credit'));
            return false;
          }
          await io.write(errorAnswer(refused), wait(this.idleMs));
          return true;
        }
        let answer: Answer;
        let done = false;
        try {
          // Every batch is a whole request of its own: grants, lease and checks as for `changes`.
          const result = (await this.answer(peerId, { ...params, op: 'changes', feed: 'normal', since }, gone.signal)) as ChangesText;
          answer = { ok: true, result };
          since = result.lastSeq;
          done = result.rows < (limit as number);
        } catch (err) {
          answer = errorAnswer(err);
          done = true;
        }
        if (gone.signal.aborted) return false;
        // A reader that stopped reading must not hold a batch here for ever.
        await writeUnlessStalled(io, stream, answer, gone.signal, this.idleMs);
        credit--;
        if (done) return true;
      }
    });

  /**
   * Runs one stream's exchange with its asker (authenticated by the transport), with its frames and
   * a signal that aborts when the stream closes; `run` answers whether the stream is closed after
   * (false: it was aborted or is gone already). A failure aborts the stream.
   */
  private async session(stream: Stream, connection: Connection, run: (s: { peerId: string; io: Frames; gone: AbortController }) => Promise<boolean>): Promise<void> {
    const peerId = connection.remotePeer.toString();
    // A stranger must not make this node buffer large frames on its many streams: a small limit.
    const trusted = await this.options.trust.current().then((s) => isTrusted(s, peerId), () => false);
    const io = frames(stream, trusted ? this.maxRequestBytes : Math.min(this.maxRequestBytes, UNTRUSTED_MAX_REQUEST_BYTES));
    const gone = new AbortController();
    const onClose = () => gone.abort(new RefugeError('closed', 'the asking peer went away'));
    stream.addEventListener('close', onClose);
    try {
      if (await run({ peerId, io, gone })) await stream.close();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    } finally {
      stream.removeEventListener('close', onClose);
    }
  }

  private serve(stream: Stream, connection: Connection, many: boolean): Promise<void> {
    return this.session(stream, connection, async ({ peerId, io, gone }) => {
      for (let first = true; ; first = false) {
        let answer: Answer | undefined;
        let last = !many;
        let request: unknown;
        try {
          request = await io.read(AbortSignal.any([gone.signal, AbortSignal.timeout(first ? REQUEST_WAIT_MS : this.idleMs)]));
        } catch (err) {
          // The client closed between requests, or left the stream idle: nothing to answer.
          if (!first && (isRefugeError(err, 'unavailable') || gone.signal.aborted)) return true;
          // Otherwise a frame that could not be read: answered, and nothing more is read from it.
          request = undefined;
          answer = errorAnswer(err);
          last = true;
        }
        if (request !== undefined) {
          try {
            answer = { ok: true, result: await this.answer(peerId, request, gone.signal) };
          } catch (err) {
            answer = errorAnswer(err);
          }
        }
        if (gone.signal.aborted) return false;
        await writeUnlessStalled(io, stream, answer ?? errorAnswer(new RefugeError('bad_request', 'an empty request')), gone.signal, this.idleMs);
        if (last) return true;
      }
    });
  }
}

function changesRequest(req: ReplicationRequest, signal?: AbortSignal) {
  const since = req.since ?? 0;
  if (typeof since !== 'string' && typeof since !== 'number') throw bad('since must be a sequence');
  const limit = req.limit ?? 500;
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_ITEMS) throw bad(`limit must be 1..${MAX_ITEMS}`);
  if (req.style !== undefined && req.style !== 'all_docs' && req.style !== 'main_only') throw bad('style must be all_docs or main_only');
  if (req.feed !== undefined && req.feed !== 'normal' && req.feed !== 'longpoll') throw bad('feed must be normal or longpoll');
  const timeout = req.timeoutMs ?? MAX_LONGPOLL_MS;
  if (typeof timeout !== 'number' || !(timeout >= 0)) throw bad('timeoutMs must be a non-negative number');
  const docIds = req.docIds === undefined ? undefined : list(req.docIds, 'docIds');
  if (docIds && !docIds.every((id) => typeof id === 'string')) throw bad('docIds must be strings');
  if (req.selector !== undefined) object(req.selector, 'selector');
  if (req.includeDocs !== undefined && typeof req.includeDocs !== 'boolean') throw bad('includeDocs must be a boolean');
  let filter: { name: string; queryParams: Record<string, unknown> } | undefined;
  if (req.filter !== undefined) {
    const f = object(req.filter, 'filter');
    if (typeof f.name !== 'string') throw bad('filter.name must be ddoc/name');
    filter = { name: f.name, queryParams: object(f.queryParams ?? {}, 'filter.queryParams') };
  }
  return {
    since,
    limit: limit as number,
    style: req.style === 'main_only' ? ('main_only' as const) : ('all_docs' as const),
    ...(docIds && { docIds: docIds as string[] }),
    ...(req.selector !== undefined && { selector: req.selector }),
    ...(filter && { filter }),
    ...(req.includeDocs === true && { includeDocs: true }),
    feed: req.feed === 'longpoll' ? ('longpoll' as const) : ('normal' as const),
    timeoutMs: Math.min(timeout, MAX_LONGPOLL_MS),
    ...(signal && { signal }),
  };
}

function bulkGetRequests(value: unknown): BulkGetRequest[] {
  const docs = list(value, 'docs');
  for (const d of docs) {
    const r = object(d, 'a bulkGet request');
    if (typeof r.id !== 'string' || (r.rev !== undefined && typeof r.rev !== 'string')) throw bad('a bulkGet request is {id, rev?} of strings');
  }
  return docs as BulkGetRequest[];
}
