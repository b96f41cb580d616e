// Where the replicator's reader gets its changes from: pages of a streamed feed where the source
// can stream one (changesFeed), one request per page otherwise and for long polls.

import type { PeerChanges, PeerChangesRequest, ReplicationPeer } from './peer.ts';

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

  constructor(private readonly source: ReplicationPeer) {}

  /**
   * The next page at `request.since` (of `request.limit` rows at most). A streamed feed is only
   * ever asked in order: the reader's `since` is the last page's `lastSeq`, and after a failure the
   * feed is dropped, so a retry asks again from there.
   */
  async next(request: PeerChangesRequest): Promise<PeerChanges> {
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

  /** A new session (from another place): its first feed asks one page again. */
  restart(): void {
    this.close();
    this.pages = 1;
  }

  /** Gives up the feed being read (its answer is not read further). */
  close(): void {
    const feed = this.feed;
    this.feed = undefined;
    void feed?.iterator.return?.(undefined)?.catch(() => undefined);
  }
}
