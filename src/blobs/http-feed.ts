// Follows a node's blob change feed (`/_blobs/_changes`) for HttpBlobStore.subscribe: pins "now"
// first, then long-polls or reads the event stream, and retries with back-off when the link fails.

import { readEventStream } from '../platform/event-stream.ts';
import { sleep } from '../platform/sleep.ts';
import type { BlobFeed } from './feed.ts';
import type { BlobId } from './id.ts';

export interface FeedSource {
  /** The feed's position now (a normal request, answered at once). */
  now(): Promise<string>;
  /** A GET of the node's feed at `path`; throws on an error answer. */
  get(path: string, signal: AbortSignal): Promise<Response>;
}

type Change = { reset?: boolean; type?: string; id?: BlobId; size?: number; last_seq?: string; seq?: string };

/** Emits the node's changes into `feed` until `signal` aborts; `started` once the position is pinned. */
export async function followBlobChanges(
  source: FeedSource,
  options: { mode: 'eventsource' | 'longpoll'; retryMs: number },
  feed: BlobFeed,
  signal: AbortSignal,
  started: () => void,
): Promise<void> {
  let since = 'now';
  let delay = options.retryMs;
  const emit = (c: Change) => {
    if (c.reset) feed.emit({ type: 'overflow' });
    else if (c.type === 'added' && c.id && c.size !== undefined) feed.emit({ type: 'added', id: c.id, size: c.size });
    else if (c.type === 'removed' && c.id) feed.emit(c.size === undefined ? { type: 'removed', id: c.id } : { type: 'removed', id: c.id, size: c.size });
  };
  while (!signal.aborted) {
    try {
      if (since === 'now') {
        // Pin the position first, so nothing written after subscribe returned is missed.
        since = await source.now();
        started();
      }
      if (options.mode === 'longpoll') {
        const res = await source.get(`/_blobs/_changes?feed=longpoll&since=${encodeURIComponent(since)}&timeout=30000`, signal);
        const page = (await res.json()) as { results: Change[]; last_seq: string; reset?: boolean };
        if (page.reset) emit({ reset: true });
        for (const c of page.results) emit(c);
        since = page.last_seq;
      } else {
        const res = await source.get(`/_blobs/_changes?feed=eventsource&since=${encodeURIComponent(since)}`, signal);
        for await (const { data } of readEventStream(res.body as unknown as AsyncIterable<Uint8Array>)) {
          delay = options.retryMs;
          const c = JSON.parse(data) as Change;
          emit(c);
          since = c.seq ?? c.last_seq ?? since;
        }
      }
      delay = options.retryMs;
    } catch {
      if (signal.aborted) return;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 30_000);
    }
  }
}
