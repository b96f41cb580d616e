// The replication peer over any CouchDB-compatible HTTP endpoint (Refuge, CouchDB, pouchdb-server),
// speaking CouchDB's wire names and falling back to open_revs reads where _bulk_get is missing.

import type { BulkGetRequest, BulkGetResult, Doc, RevsDiffEntry } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { HttpClient, attachmentPath, docPath, type HttpClientOptions } from './http-client.ts';
import { ChangeRows, changesFeed, changesQuery, heartbeatFor } from './http-changes.ts';
import { attachmentDataBytes, withBase64 } from './attachment-data.ts';
import { readLazily, withInline } from './pulled-attachments.ts';
import { relatedBody, RELATED_MIN_BYTES } from './related-write.ts';
import { streamBytes } from './http-stream.ts';
import {
  type CallOptions,
  type PeerCapabilities,
  type PeerChanges,
  type PeerChangesRequest,
  type PeerInfo,
  type PeerWriteResult,
  type ReplicationPeer,
} from './peer.ts';

export interface HttpPeerOptions extends HttpClientOptions {
  /** Declared abilities; `bulkGet` is also turned off by itself when the server lacks _bulk_get. */
  capabilities?: Partial<PeerCapabilities>;
  /** Documents read at once when _bulk_get is missing (default 8). */
  fallbackConcurrency?: number;
}

type Wire = Record<string, unknown>;

/** Statuses with which servers without _bulk_get answer it (CouchDB 1.x, some proxies). */
const NO_BULK_GET = new Set([400, 404, 405, 501]);

/** How much longer than its `timeout` a long-poll is given before the wait is ended here. */
const LONGPOLL_GRACE_MS = 1_000;
/** Beats that may go missing before a long-poll's link counts as dead. */
const MISSED_BEATS = 4;

export class HttpPeer implements ReplicationPeer {
  readonly capabilities: PeerCapabilities;
  readonly client: HttpClient;
  private readonly fallbackConcurrency: number;
  /**
   * The server sent heartbeats on a long-poll (CouchDB and Refuge do when asked): from then on a
   * long-poll silent for a few beats is a dead link, noticed in seconds rather than after the whole
   * wait plus the request timeout. Learnt, not assumed: a server that ignores `heartbeat` is only
   * ever given the full time.
   */
  private heartbeats = false;
  private readonly rows: ChangeRows;
  /** Whether documents with large attachments go as multipart/related; off once a server refuses it (415). */
  private relatedPut = true;

  constructor(url: string | URL, options: HttpPeerOptions = {}) {
    this.client = new HttpClient(url, options);
    this.capabilities = { bulkGet: true, selector: true, longpoll: true, changesDocs: true, attachmentBytes: true, attsSince: true, ...options.capabilities };
    this.fallbackConcurrency = options.fallbackConcurrency ?? 8;
    this.rows = new ChangeRows(this.client.url, () => (this.capabilities.changesDocs = false));
  }

  identity(): Promise<string> {
    return Promise.resolve(this.client.url);
  }

  async info(options: CallOptions = {}): Promise<PeerInfo> {
    const { body } = await this.client.request({ signal: options.signal });
    const b = body as Wire;
    if (typeof b?.update_seq !== 'string' && typeof b?.update_seq !== 'number') {
      throw new RefugeError('bad_gateway', `${this.client.url} does not look like a CouchDB database (no update_seq)`);
    }
    const info: PeerInfo = { updateSeq: b.update_seq };
    if (typeof b.db_name === 'string') info.dbName = b.db_name;
    if (typeof b.instance_start_time === 'string') info.instanceStartTime = b.instance_start_time;
    if (typeof b.doc_count === 'number') info.docCount = b.doc_count;
    return info;
  }

  async createDatabase(options: CallOptions = {}): Promise<void> {
    try {
      await this.client.request({ method: 'PUT', signal: options.signal });
    } catch (err) {
      // Someone else created it between our check and this request: that is what we wanted.
      if (!isRefugeError(err, 'file_exists') && !(isRefugeError(err) && err.status === 412)) throw err;
    }
  }

  async changes(req: PeerChangesRequest): Promise<PeerChanges> {
    const { query, body, waitMs } = changesQuery(req);
    const res = await this.client.request({
      method: body === undefined ? 'GET' : 'POST',
      path: '_changes',
      query,
      body,
      signal: req.signal,
      extraTimeoutMs: waitMs ?? 0,
      ...(waitMs !== undefined && this.heartbeats && { idleMs: MISSED_BEATS * heartbeatFor(waitMs) }),
      // The server may wait on past `timeout` (CouchDB does when heartbeats are asked for).
      ...(waitMs !== undefined && { waitMs: waitMs + LONGPOLL_GRACE_MS }),
    });
    if (res.heartbeats) this.heartbeats = true;
    // Nothing came in the time asked: an empty answer at the same place, as a server's own timeout gives.
    if (res.quiet) return { results: [], lastSeq: req.since };
    const { results, ...trailer } = (res.body ?? {}) as Wire;
    return this.rows.page(results, trailer, req);
  }

  /** A long normal feed read as it comes, in pages (http-changes.ts changesFeed). */
  changesFeed(req: PeerChangesRequest, pageSize: number): AsyncIterable<PeerChanges> {
    const maxAnswerChars = this.client.maxAnswerBytes;
    return changesFeed(this.client, this.rows, req, pageSize, { maxRowChars: maxAnswerChars, maxAnswerChars });
  }

  async revsDiff(request: ReadonlyMap<string, string[]>, options: CallOptions = {}): Promise<Map<string, RevsDiffEntry>> {
    const { body } = await this.client.request({ method: 'POST', path: '_revs_diff', body: Object.fromEntries(request), signal: options.signal });
    const bad = () => new RefugeError('bad_gateway', `${this.client.url}/_revs_diff: not CouchDB's answer: ${JSON.stringify(body).slice(0, 200)}`);
    // An empty answer is none (CouchDB says nothing is missing with {}): read as one, a batch would be passed by.
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw bad();
    const out = new Map<string, RevsDiffEntry>();
    for (const [id, entry] of Object.entries(body as Record<string, Wire>)) {
      if (entry === null || typeof entry !== 'object' || (entry.missing !== undefined && !Array.isArray(entry.missing))) throw bad();
      const missing = Array.isArray(entry.missing) ? (entry.missing as string[]) : [];
      if (missing.length === 0) continue;
      out.set(id, Array.isArray(entry.possible_ancestors) ? { missing, possibleAncestors: entry.possible_ancestors as string[] } : { missing });
    }
    return out;
  }

  /**
   * Read first without data; documents with large attachments get them as bytes read from the
   * server when written, the others are read again with their data inline (pulled-attachments.ts).
   */
  async bulkGet(requests: readonly BulkGetRequest[], options: { revs: true; latest: true } & CallOptions): Promise<BulkGetResult> {
    if (!this.capabilities.bulkGet) return this.readEach(requests, options.signal);
    let results: BulkGetResult['results'];
    try {
      // Without atts_since: alone, it would bring the newer attachments' data (as CouchDB reads it).
      results = await this.postBulkGet(requests.map(({ id, rev }) => (rev === undefined ? { id } : { id, rev })), false, options.signal);
    } catch (err) {
      if (!(isRefugeError(err) && NO_BULK_GET.has(err.status))) throw err;
      // A 404 is also what a deleted database (or a proxy in trouble) answers: only a database
      // that is still there lacks the endpoint. Otherwise the batch fails, and is tried again.
      if (err.status === 404) await this.info({ signal: options.signal });
      this.capabilities.bulkGet = false;
      return this.readEach(requests, options.signal);
    }
    // Outside the try: a 404 on these reads is no sign that _bulk_get is missing.
    const first = await this.readErrorsAgain(requests, results, options.signal);
    const inline = readLazily(first, requests, (id, rev, name) => streamBytes(this.client, { path: `${docPath(id)}/${attachmentPath(name)}`, query: { rev } }));
    if (inline.length === 0) return first;
    const again = await this.readErrorsAgain(inline, await this.postBulkGet(inline, true, options.signal), options.signal);
    return withInline(first, again, inline);
  }

  private async postBulkGet(requests: readonly BulkGetRequest[], attachments: boolean, signal?: AbortSignal): Promise<BulkGetResult['results']> {
    const { body } = await this.client.request({
      method: 'POST',
      path: '_bulk_get',
      query: { revs: true, latest: true, ...(attachments && { attachments: true }) },
      body: { docs: requests },
      signal,
    });
    const results = (body as Wire)?.results;
    if (!Array.isArray(results)) throw new RefugeError('bad_gateway', `${this.client.url}/_bulk_get: no results in the answer`);
    return results;
  }

  /**
   * The revisions a _bulk_get answered with an error entry (a shard that timed out, say) read again
   * one document at a time with open_revs, as CouchDB's replicator does; what is still missing
   * then stays an error entry, for the replicator to wait on.
   */
  private async readErrorsAgain(requests: readonly BulkGetRequest[], results: BulkGetResult['results'], signal?: AbortSignal): Promise<BulkGetResult> {
    const failed = new Map<string, Set<string | undefined>>();
    for (const result of results) {
      for (const entry of result?.docs ?? []) {
        if (entry === null || typeof entry !== 'object' || 'ok' in entry) continue;
        const id = entry.error?.id ?? result.id;
        if (typeof id !== 'string') continue;
        const revs = failed.get(id) ?? new Set();
        failed.set(id, revs.add(typeof entry.error?.rev === 'string' ? entry.error.rev : undefined));
      }
    }
    if (failed.size === 0) return { results };
    // The requests those errors stand for (an error naming no revision: every one of its id).
    const again = requests.filter((r) => failed.get(r.id)?.has(r.rev) || failed.get(r.id)?.has(undefined));
    const kept = results
      .map((result) => ({ ...result, docs: (result?.docs ?? []).filter((e) => e !== null && typeof e === 'object' && 'ok' in e) }))
      .filter((result) => result.docs.length > 0);
    if (again.length === 0) return { results };
    return { results: [...kept, ...(await this.readEach(again, signal)).results] };
  }

  /** _bulk_get emulated: one open_revs read per document, a few at a time. */
  private async readEach(requests: readonly BulkGetRequest[], signal?: AbortSignal): Promise<BulkGetResult> {
    const byId = new Map<string, Array<string | undefined>>();
    for (const r of requests) byId.set(r.id, [...(byId.get(r.id) ?? []), r.rev]);
    const ids = [...byId.keys()];
    const results: BulkGetResult['results'] = new Array(ids.length);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const i = next++;
        results[i] = await this.readOne(ids[i]!, byId.get(ids[i]!)!, signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.fallbackConcurrency, ids.length) }, worker));
    return { results };
  }

  private async readOne(id: string, revs: Array<string | undefined>, signal?: AbortSignal): Promise<BulkGetResult['results'][number]> {
    const wanted = revs.filter((r): r is string => r !== undefined);
    const missing = (rev: string | undefined, error = 'not_found', reason = 'missing') => ({ error: { id, rev, error, reason } });
    try {
      if (wanted.length === 0) {
        const { body } = await this.client.request({ path: docPath(id), query: { revs: true }, signal });
        return { id, docs: [{ ok: body as Doc }] };
      }
      const { body } = await this.client.request({
        path: docPath(id),
        query: { revs: true, latest: true, attachments: true, open_revs: JSON.stringify(wanted) },
        signal,
      });
      if (!Array.isArray(body)) throw new RefugeError('bad_gateway', `${this.client.url}/${docPath(id)}: open_revs did not answer a list`);
      return { id, docs: body.map((e: Wire) => (e.ok ? { ok: e.ok as Doc } : missing(e.missing as string))) };
    } catch (err) {
      // Asked for given revisions, a server answers 200 and marks the ones it lacks, the document
      // gone or not: a 404 is the database's (or the link's), and skipping the revisions as missing
      // would let a checkpoint pass them by for good.
      if (!isRefugeError(err, 'not_found') || wanted.length > 0) throw err;
      return { id, docs: [missing(undefined)] };
    }
  }

  /**
   * Documents with large attachments go one at a time as multipart/related PUTs, as CouchDB's
   * replicator writes them (related-write.ts); the others in one _bulk_docs.
   */
  async bulkDocs(docs: readonly Doc[], options: { newEdits: false } & CallOptions): Promise<PeerWriteResult[]> {
    const alone = this.relatedPut ? docs.filter((d) => attachmentDataBytes(d) >= RELATED_MIN_BYTES) : [];
    const results = alone.length === docs.length ? [] : await this.bulkDocsJson(alone.length === 0 ? docs : docs.filter((d) => !alone.includes(d)), options);
    for (let i = 0; i < alone.length; i++) {
      const result = await this.putRelated(alone[i]!, options);
      if (result !== undefined) {
        results.push(result);
        continue;
      }
      // The body was refused as such (400, 415): JSON tells whether the server or the document is
      // at fault. A server that takes it as JSON reads no multipart, and gets JSON from now on.
      const json = await this.bulkDocsJson([alone[i]!], options);
      results.push(...json);
      if (json.every((r) => r.error === undefined)) {
        this.relatedPut = false;
        return [...results, ...(await this.bulkDocsJson(alone.slice(i + 1), options))];
      }
    }
    return results;
  }

  /**
   * One document as multipart/related. A refusal of the document (403 from a validation function,
   * 413 past a limit) is its write failure, as in a _bulk_docs answer. Undefined when the body is
   * refused as such (400, 415): a server that reads no multipart answers so.
   */
  private async putRelated(doc: Doc, options: { newEdits: false } & CallOptions): Promise<PeerWriteResult | undefined> {
    const id = String(doc._id);
    const raw = relatedBody(doc);
    try {
      const { body } = await this.client.request({ method: 'PUT', path: docPath(id), query: { new_edits: false }, raw, signal: options.signal });
      const rev = (body as Wire | undefined)?.rev;
      return { id, rev: typeof rev === 'string' ? rev : (doc._rev as string), ok: true };
    } catch (err) {
      // The bytes could not be read from the source: for now (tried again), or for good (that document fails).
      if (isRefugeError(raw.failure)) throw raw.failure;
      const status = isRefugeError(err) ? err.status : undefined;
      if (status === undefined || status < 400 || status >= 500 || status === 404 || status === 408 || status === 429) throw err;
      if (status === 400 || status === 415) return undefined;
      return { id, rev: doc._rev as string, error: (err as RefugeError).code, reason: (err as RefugeError).reason };
    }
  }

  private async bulkDocsJson(docs: readonly Doc[], options: { newEdits: false } & CallOptions): Promise<PeerWriteResult[]> {
    const { body } = await this.client.request({
      method: 'POST',
      path: '_bulk_docs',
      body: { docs: await withBase64(docs), new_edits: options.newEdits },
      signal: options.signal,
      acceptStatus: [417],
    });
    if (!Array.isArray(body)) throw new RefugeError('bad_gateway', `${this.client.url}/_bulk_docs: the answer is not a list`);
    return body as PeerWriteResult[];
  }

  async getLocal(id: string, options: CallOptions = {}): Promise<Doc | undefined> {
    try {
      const { body } = await this.client.request({ path: docPath(id), signal: options.signal });
      return body as Doc;
    } catch (err) {
      if (isRefugeError(err, 'not_found')) return undefined;
      throw err;
    }
  }

  async putLocal(doc: Doc, options: CallOptions = {}): Promise<{ rev: string }> {
    if (typeof doc._id !== 'string') throw new RefugeError('bad_request', 'a _local document needs an _id');
    const { body } = await this.client.request({ method: 'PUT', path: docPath(doc._id), body: doc, signal: options.signal });
    return { rev: String((body as Wire)?.rev) };
  }

  async ensureFullCommit(options: CallOptions = {}): Promise<string | undefined> {
    try {
      const { body } = await this.client.request({ method: 'POST', path: '_ensure_full_commit', body: {}, signal: options.signal });
      const time = (body as Wire)?.instance_start_time;
      return typeof time === 'string' ? time : undefined;
    } catch (err) {
      // Servers that commit every write before answering (CouchDB 3, Refuge durable) may not have it.
      if (!(isRefugeError(err) && NO_BULK_GET.has(err.status))) throw err;
      return undefined;
    }
  }
}
