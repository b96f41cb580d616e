// The replication peer over an in-process Database: no serialisation, no network; long-poll waits
// on the database's own live subscription instead of a timer.

import type { BulkGetRequest, BulkGetResult, Database, Doc, RevsDiffEntry, UserCtx } from '../documents/index.ts';
import { randomUuid } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import {
  attachmentBytesOf,
  type CallOptions,
  type PeerCapabilities,
  type PeerChanges,
  type PeerChangesRequest,
  type PeerInfo,
  type PeerWriteResult,
  type ReplicationPeer,
  type Seq,
} from './peer.ts';
import { timeoutSignal } from './retry.ts';

export interface LocalPeerOptions {
  /**
   * Overrides the stable identity used in replication ids. By default each database gets a random
   * one, stored in `_local/refuge-replication-identity`, so two databases with the same name in
   * different directories never share checkpoints.
   */
  identity?: string;
  /**
   * The user this peer acts for (a user's replication), looked up before every call: it throws when
   * they may no longer use the database (a revoked grant, a deleted account), which stops the
   * replication. Filters see them as `req.userCtx`, and the database's validation and design-document
   * rule judge each replicated document as their write. Default: the embedding application (admin).
   */
  asUser?: () => Promise<UserCtx>;
}

const IDENTITY_DOC = '_local/refuge-replication-identity';
/** Documents one changes answer carries at most (by stored size); the rest are fetched by bulkGet. */
export const CARRIED_DOC_BYTES = 16 * 1024 * 1024;
const identities = new WeakMap<Database, Promise<string>>();

function toLocalSeq(seq: Seq): number {
  const n = typeof seq === 'number' ? seq : /^[0-9]+$/.test(seq) ? Number(seq) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new RefugeError('bad_request', `not a sequence of this database: ${String(seq)}`);
  return n;
}

/**
 * Documents in changes carry attachment stubs, where bulkGet would carry the data (or the mesh its
 * blobs): those rows lose their doc and are fetched by bulkGet as before.
 */
function withoutAttachmentDocs<T extends { results: Array<{ doc?: Doc; attachmentBytes?: number }> }>(changes: T): T {
  for (const row of changes.results) {
    if (row.doc?._attachments === undefined) continue;
    row.attachmentBytes = attachmentBytesOf(row.doc);
    delete row.doc;
  }
  return changes;
}

export class LocalPeer implements ReplicationPeer {
  readonly capabilities: PeerCapabilities = { bulkGet: true, selector: true, longpoll: true, changesDocs: true, attachmentBytes: true, attsSince: true };

  constructor(
    readonly db: Database,
    private readonly options: LocalPeerOptions = {},
  ) {}

  identity(): Promise<string> {
    if (this.options.identity !== undefined) return Promise.resolve(this.options.identity);
    let id = identities.get(this.db);
    if (!id) {
      // Cached per Database object so concurrent replications cannot race to create two identities.
      id = this.loadIdentity();
      identities.set(this.db, id);
      id.catch(() => identities.delete(this.db));
    }
    return id;
  }

  private async loadIdentity(): Promise<string> {
    const existing = await this.getLocal(IDENTITY_DOC);
    if (typeof existing?.identity === 'string') return existing.identity;
    const identity = `local:${this.db.name}:${randomUuid()}`;
    await this.db.putLocal({ _id: IDENTITY_DOC, identity });
    return identity;
  }

  async info(): Promise<PeerInfo> {
    const info = await this.db.info();
    return { updateSeq: info.updateSeq, dbName: info.dbName, docCount: info.docCount, instanceStartTime: info.instanceStartTime };
  }

  async ensureFullCommit(): Promise<string> {
    await this.db.ensureFullCommit();
    return this.db.instanceStartTime;
  }

  async changes(request: PeerChangesRequest): Promise<PeerChanges> {
    // CouchDB's replicator hands `since_seq: "now"` to _changes as it is; so do URL sources.
    const since = request.since === 'now' ? await this.db.updateSeq() : toLocalSeq(request.since);
    const userCtx = await this.options.asUser?.();
    const filter = {
      ...(userCtx && { userCtx }),
      style: request.style,
      docIds: request.docIds ? [...request.docIds] : undefined,
      selector: request.selector,
      ...(request.filter ? { filter: request.filter.name, queryParams: request.filter.queryParams } : {}),
      ...(request.includeDocs === true && { includeDocs: true, revs: true, maxDocBytes: CARRIED_DOC_BYTES, docText: request.docText === true }),
    };
    const first = await this.db.changes({ ...filter, since, limit: request.limit });
    // Rows read while the user lost the database are not handed over: checked again once read.
    if (userCtx && first.results.length > 0) await this.options.asUser!();
    if (first.results.length > 0 || request.feed !== 'longpoll' || request.signal?.aborted) return this.withPending(withoutAttachmentDocs(first));
    // Nothing new: wait for the first matching commit, the timeout, or the caller giving up.
    const wait = timeoutSignal(request.signal, request.timeoutMs ?? 60_000);
    const live = this.db.subscribe({ ...filter, since: first.lastSeq, batchSize: request.limit, signal: wait.signal });
    try {
      const next = await live.next();
      const rows = next.done ? [] : next.value;
      // A long wait: the user may have lost the database meanwhile, and these rows with it.
      if (rows.length > 0) await this.options.asUser?.();
      if (rows.length > 0) return this.withPending(withoutAttachmentDocs({ results: rows, lastSeq: rows[rows.length - 1]!.seq }));
    } finally {
      wait.clear();
      await live.return(undefined);
    }
    return { results: [], lastSeq: first.lastSeq };
  }

  /** CouchDB's `pending` (changes left after the answer), as the HTTP feed reports it: progress. */
  private async withPending(changes: PeerChanges): Promise<PeerChanges> {
    if (typeof changes.lastSeq === 'number') changes.pending = await this.db.pendingAfter(changes.lastSeq);
    return changes;
  }

  async revsDiff(request: ReadonlyMap<string, string[]>): Promise<ReadonlyMap<string, RevsDiffEntry>> {
    await this.options.asUser?.();
    return this.db.revsDiff(request);
  }

  async bulkGet(requests: readonly BulkGetRequest[], options: { revs: true; latest: true }): Promise<BulkGetResult> {
    await this.options.asUser?.();
    // Attachments travel whole, as CouchDB's replicator asks with attachments=true, but as bytes
    // read only when written: a database of this node's store names the same blobs, another streams
    // them, and a target that takes only base64 is given it by the replicator.
    return this.db.bulkGet(requests, { revs: options.revs, latest: options.latest, attachments: true, attachmentBytes: true });
  }

  async bulkDocs(docs: readonly Doc[], options: { newEdits: false }): Promise<PeerWriteResult[]> {
    const userCtx = await this.options.asUser?.();
    return this.db.bulkDocs(docs, { newEdits: options.newEdits, ...(userCtx && { userCtx }) });
  }

  async getLocal(id: string, _options?: CallOptions): Promise<Doc | undefined> {
    try {
      return await this.db.get(id);
    } catch (err) {
      if (isRefugeError(err, 'not_found')) return undefined;
      throw err;
    }
  }

  async putLocal(doc: Doc): Promise<{ rev: string }> {
    await this.options.asUser?.();
    const { rev } = await this.db.putLocal(doc);
    return { rev };
  }
}
