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
  type PeerChangeRow,
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
function withoutAttachmentDocs(rows: PeerChangeRow[]): PeerChangeRow[] {
  for (const row of rows) {
    if (row.doc?._attachments === undefined) continue;
    row.attachmentBytes = attachmentBytesOf(row.doc);
    delete row.doc;
  }
  return rows;
}

/** What a changes answer read chunk by chunk ends with: the sequence it reached and what is left. */
export interface ChangesEnd {
  lastSeq: Seq;
  pending?: number;
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
    const chunks = this.changesChunks(request);
    const results: PeerChangeRow[] = [];
    for (;;) {
      const next = await chunks.next();
      if (next.done) return { results, ...next.value };
      for (const row of next.value) results.push(row);
    }
  }

  /**
   * The answer `changes` gives, a chunk of rows at a time as storage yields them, ending with its
   * `lastSeq` and `pending`: a server writing the answer out (the mesh's) keeps no row past its
   * chunk. Collected whole first, the 500 rows of a batch with their documents outlived the young
   * generation's collections on a node serving the mesh, and were each copied twice by them.
   * Nothing is read before the first `next()`.
   */
  async *changesChunks(request: PeerChangesRequest): AsyncGenerator<PeerChangeRow[], ChangesEnd, undefined> {
    // CouchDB's replicator hands `since_seq: "now"` to _changes as it is; so do URL sources.
    const since = request.since === 'now' ? await this.db.updateSeq() : toLocalSeq(request.since);
    const asUser = this.options.asUser;
    const userCtx = await asUser?.();
    const filter = {
      ...(userCtx && { userCtx }),
      style: request.style,
      docIds: request.docIds ? [...request.docIds] : undefined,
      selector: request.selector,
      ...(request.filter ? { filter: request.filter.name, queryParams: request.filter.queryParams } : {}),
      ...(request.includeDocs === true && { includeDocs: true, revs: true, maxDocBytes: CARRIED_DOC_BYTES, docText: request.docText === true }),
    };
    const listing = await this.db.changesListing({ ...filter, since, limit: request.limit }, true);
    let rows = 0;
    try {
      for await (const chunk of listing.chunks) {
        if (chunk.length === 0) continue;
        // Rows read while the user lost the database are not handed over: checked again once read.
        if (asUser) await asUser();
        rows += chunk.length;
        yield withoutAttachmentDocs(chunk);
      }
    } finally {
      await listing.close();
    }
    if (rows > 0 || request.feed !== 'longpoll' || request.signal?.aborted) return { lastSeq: listing.lastSeq, pending: listing.pending };
    // Nothing new: wait for the first matching commit, the timeout, or the caller giving up.
    const wait = timeoutSignal(request.signal, request.timeoutMs ?? 60_000);
    const live = this.db.subscribe({ ...filter, since: listing.lastSeq, batchSize: request.limit, signal: wait.signal });
    try {
      const next = await live.next();
      const found = next.done ? [] : next.value;
      if (found.length > 0) {
        // A long wait: the user may have lost the database meanwhile, and these rows with it.
        if (asUser) await asUser();
        yield withoutAttachmentDocs(found);
        const lastSeq = found[found.length - 1]!.seq;
        return { lastSeq, pending: await this.db.pendingAfter(lastSeq) };
      }
    } finally {
      wait.clear();
      await live.return(undefined);
    }
    return { lastSeq: listing.lastSeq };
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
