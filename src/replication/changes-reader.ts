// Where the replicator's reader gets its changes from: pages asked as the options say, of a streamed
// feed where the source can stream one (changesFeed), one request per page otherwise and for long polls.

import { isRefugeError } from '../errors/index.ts';
import type { Call } from './batch.ts';
import type { ResolvedOptions } from './options.ts';
import type { PeerChanges, PeerChangesRequest, ReplicationPeer, Seq } from './peer.ts';

/**
 * Pages a streamed feed asks for at once: fewer requests (and server snapshots) the more, and a
 * feed is given up (to be asked again from where the reader is) when what it asks changes.
 */
export const FEED_PAGES = 20;

export class ChangesReader {
  private feed: { iterator: AsyncIterator<PeerChanges>; pageSize: number; includeDocs: boolean } | undefined;
  /**
   * Pages the next feed asks: one for a session's first, which tells the source's `pending` after
   * a page rather than after FEED_PAGES (a streamed feed has it only at its end; CouchDB's
   * replicator asks the source for it aside, with a request of its own).
   */
  private pages = 1;
  /** Rows asked per page (a shorter one is the feed's end): the batch size, halved while answers are past the source's size limit. */
  limit: number;
  /** A changes answer with documents was past the source's answer size limit: never carry them again. */
  private docsTooLarge = false;

  constructor(
    private readonly source: ReplicationPeer,
    private readonly options: ResolvedOptions,
    /** Runs one peer call with the replication's retries. */
    private readonly call: Call,
  ) {
    this.limit = options.batchSize;
  }

  /**
   * The page after `since` (waiting for one when `longpoll`), with the documents when `carryDocs`
   * and the source can carry them. Undefined when the answer was past the source's size limit: the
   * next page is then asked smaller, first without the documents (bulkGet fetches them in halves as
   * needed), then with fewer rows at a time.
   */
  async page(since: Seq, longpoll: boolean, carryDocs: boolean, signal: AbortSignal): Promise<PeerChanges | undefined> {
    const { source, options } = this;
    const carry = carryDocs && !this.docsTooLarge && source.capabilities.changesDocs === true;
    const request: PeerChangesRequest = {
      since,
      limit: this.limit,
      style: options.winningRevsOnly ? 'main_only' : 'all_docs',
      docIds: options.docIds,
      selector: options.selector,
      ...(options.filter === undefined ? {} : { filter: { name: options.filter, queryParams: options.queryParams ?? {} } }),
      feed: longpoll ? 'longpoll' : 'normal',
      timeoutMs: options.longpollTimeoutMs,
      // Checked at each call: a peer may find out that its server cannot carry them after all.
      ...(carry && { includeDocs: true }),
      signal,
    };
    try {
      return await this.call(() => this.next(request));
    } catch (err) {
      if (!isRefugeError(err, 'too_large')) throw err;
      if (carry) this.docsTooLarge = true;
      else if (this.limit > 1) this.limit = Math.ceil(this.limit / 2);
      else throw err;
      return undefined;
    }
  }

  /**
   * The next page at `request.since` (of `request.limit` rows at most). A streamed feed is only
   * ever asked in order: the reader's `since` is the last page's `lastSeq`, and after a failure the
   * feed is dropped, so a retry asks again from there.
   */
  private async next(request: PeerChangesRequest): Promise<PeerChanges> {
    const open = this.source.changesFeed?.bind(this.source);
    const wanted = request.feed !== 'longpoll' && open !== undefined;
    const includeDocs = request.includeDocs === true;
    if (this.feed && (!wanted || this.feed.pageSize !== request.limit || this.feed.includeDocs !== includeDocs)) this.close();
    if (!wanted) return this.source.changes(request);
    for (let opened = false; ; opened = true) {
      this.feed ??= {
        iterator: open({ ...request, limit: request.limit * this.pages }, request.limit)[Symbol.asyncIterator](),
        pageSize: request.limit,
        includeDocs,
      };
      this.pages = FEED_PAGES;
      let next: IteratorResult<PeerChanges>;
      try {
        next = await this.feed.iterator.next();
      } catch (err) {
        this.feed = undefined;
        throw err;
      }
      if (!next.done) return next.value;
      // The feed ended after a full page: the next one starts where it stopped.
      this.feed = undefined;
      if (opened) return { results: [], lastSeq: request.since };
    }
  }

  /** A new session (from another place): its first feed asks one page again, of a whole batch. */
  restart(): void {
    this.close();
    this.pages = 1;
    this.limit = this.options.batchSize;
  }

  /** Gives up the feed being read (its answer is not read further). */
  close(): void {
    const feed = this.feed;
    this.feed = undefined;
    void feed?.iterator.return?.(undefined)?.catch(() => undefined);
  }
}
