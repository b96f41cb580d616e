// The client side of `/refuge/changes-feed/1.0.0`: a normal changes feed the source pushes batch
// after batch while this side grants credit, so the replicator's reader gets its next batch without
// a round trip (the source works on it while this node writes the last one). A FeedReader opens one
// when a caller reads on from where its last full batch ended, as the replicator's reader does.

import type { Stream } from '@libp2p/interface';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import type { PeerChanges, PeerChangesRequest } from '../replication/index.ts';
import { timeoutSignal } from '../replication/retry.ts';
import { CHANGES_FEED_PROTOCOL } from './replication-protocol.ts';
import { answerError, frames, type Frames } from './wire.ts';

/** Batches the source may write ahead of this side's reading. */
export const FEED_CREDIT = 2;
/** A feed nobody read on from for this long is closed (its reader stopped without aborting). */
export const FEED_IDLE_MS = 30_000;

/** What makes two changes requests parts of one feed: everything but where they start. */
export function feedKey(db: string, req: PeerChangesRequest): string {
  const { since: _s, signal: _g, feed: _f, timeoutMs: _t, ...rest } = req;
  return JSON.stringify([db, rest]);
}

export interface FeedOpener {
  openStream(peerId: string, protocol: string, signal?: AbortSignal, options?: { dial?: boolean }): Promise<Stream>;
}

export class ChangesFeed {
  /** The `since` (as JSON) the next batch starts at: a request for another one needs a new feed. */
  private expected: string;
  private ended = false;

  /** Closes the feed when the caller's signal aborts; removed once the feed is over. */
  private readonly onAbort = () => this.close();

  private constructor(
    private readonly stream: Stream,
    private readonly io: Frames,
    readonly key: string,
    since: PeerChangesRequest['since'],
    private readonly limit: number,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.expected = JSON.stringify(since);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The feed is over: it no longer listens to the caller's signal (one replication opens many). */
  private end(): void {
    this.ended = true;
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /**
   * Opens a feed from `req.since`; undefined when the peer does not speak the protocol (the caller
   * then asks batch by batch). The feed closes itself when `req.signal` aborts.
   */
  static async open(
    mesh: FeedOpener,
    peerId: string,
    db: string,
    req: PeerChangesRequest,
    options: { timeoutMs: number; maxAnswerBytes: number; dial?: boolean },
  ): Promise<ChangesFeed | undefined> {
    const { signal, feed: _f, timeoutMs: _t, ...params } = req;
    // Opening and asking are bounded as a request is: a source gone silent is not waited on for ever.
    const wait = timeoutSignal(signal, options.timeoutMs);
    let stream: Stream;
    try {
      stream = await mesh.openStream(peerId, CHANGES_FEED_PROTOCOL, wait.signal, options.dial === false ? { dial: false } : undefined);
    } catch (err) {
      wait.clear();
      if ((err as Error | null)?.name === 'UnsupportedProtocolError') return undefined;
      if (wait.signal.aborted && isRefugeError(wait.signal.reason)) throw wait.signal.reason;
      if (isRefugeError(err)) throw err;
      throw new RefugeError('unavailable', `cannot reach peer ${peerId}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    const feed = new ChangesFeed(stream, frames(stream, options.maxAnswerBytes), feedKey(db, req), req.since, req.limit, options.timeoutMs, signal);
    try {
      await feed.io.write({ db, ...params, credit: FEED_CREDIT }, wait.signal);
    } catch (err) {
      feed.close();
      throw err;
    } finally {
      wait.clear();
    }
    return feed;
  }

  get open(): boolean {
    return !this.ended;
  }

  /** True when `req` asks for this feed's next batch. */
  continues(key: string, since: PeerChangesRequest['since']): boolean {
    return !this.ended && key === this.key && JSON.stringify(since) === this.expected;
  }

  /** The next batch; after a short one (caught up) or any failure the feed is over. */
  async next(signal?: AbortSignal): Promise<PeerChanges> {
    const wait = timeoutSignal(signal, this.timeoutMs);
    try {
      const answer = (await this.io.read(wait.signal)) as { ok?: unknown; result?: unknown; error?: unknown; reason?: unknown } | null;
      if (answer === null || typeof answer !== 'object') throw new RefugeError('unavailable', 'the peer answered garbage to a changes feed');
      if (answer.ok !== true) throw answerError(answer);
      const result = answer.result as PeerChanges;
      if (!Array.isArray(result?.results)) throw new RefugeError('bad_gateway', 'not a changes answer');
      if (result.results.length < this.limit) {
        // The source closed its side after this batch: closing ours ends the stream.
        this.end();
        this.stream.close().catch(() => undefined);
      } else {
        this.expected = JSON.stringify(result.lastSeq);
        this.io.write({ credit: 1 }).catch(() => this.close());
      }
      return result;
    } catch (err) {
      this.close();
      if (wait.signal.aborted && !isRefugeError(err, 'forbidden')) {
        const reason: unknown = wait.signal.reason;
        throw isRefugeError(reason) ? reason : new RefugeError('closed', 'the changes feed was aborted', { cause: err });
      }
      throw err;
    } finally {
      wait.clear();
    }
  }

  close(): void {
    if (this.ended) return;
    this.end();
    this.stream.abort(new Error('changes feed closed'));
  }
}

export interface FeedReaderOptions {
  peerId: string;
  db: string;
  timeoutMs: number;
  maxAnswerBytes: number;
  dial?: boolean;
}

/**
 * Changes for one peer's database: through a feed while the caller reads on batch after batch,
 * else by `ask` (one request per batch): a single read, a long-poll, a read while another is under
 * way, or a peer that has no feeds.
 */
export class FeedReader {
  private feed: ChangesFeed | undefined;
  private unsupported = false;
  private busy = false;
  /** Where the last full batch asked by request ended: a call starting there reads on. */
  private readOn: { key: string; since: string } | undefined;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly mesh: FeedOpener,
    private readonly options: FeedReaderOptions,
  ) {}

  async changes(req: PeerChangesRequest, ask: (req: PeerChangesRequest) => Promise<PeerChanges>): Promise<PeerChanges> {
    if (req.feed === 'longpoll' || this.unsupported || this.busy) return ask(req);
    this.busy = true;
    clearTimeout(this.idle);
    try {
      const key = feedKey(this.options.db, req);
      if (!this.feed?.continues(key, req.since)) {
        this.feed?.close();
        this.feed = undefined;
        const since = JSON.stringify(req.since);
        const readsOn = this.readOn?.key === key && this.readOn.since === since;
        this.readOn = undefined;
        if (!readsOn) {
          const answer = await ask(req);
          if (answer.results.length >= req.limit) this.readOn = { key, since: JSON.stringify(answer.lastSeq) };
          return answer;
        }
        const { peerId, db, dial, ...rest } = this.options;
        this.feed = await ChangesFeed.open(this.mesh, peerId, db, req, { ...rest, ...(dial === false && { dial }) });
        if (this.feed === undefined) {
          this.unsupported = true;
          return ask(req);
        }
      }
      const feed = this.feed;
      const answer = await feed.next(req.signal);
      if (feed.open) {
        this.idle = setTimeout(() => feed.close(), FEED_IDLE_MS);
        (this.idle as { unref?: () => void }).unref?.();
      }
      return answer;
    } finally {
      this.busy = false;
    }
  }
}
