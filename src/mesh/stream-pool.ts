// Streams kept open between requests: opening a libp2p stream costs a protocol negotiation and
// muxer bookkeeping (about as much as a small request itself), so protocols that allow several
// requests per stream (one after another) reuse idle ones. A stream returns to the pool only after
// a complete answer; one that failed, timed out or was aborted is dropped.

import type { Stream } from '@libp2p/interface';
import type { Frames } from './wire.ts';

export interface PooledStream {
  stream: Stream;
  io: Frames;
  /** When it last went idle (ms). */
  idleSince: number;
}

/** Idle streams older than this are closed rather than reused (servers close theirs later). */
export const POOL_IDLE_MS = 20_000;
/** Idle streams kept per peer and protocol. */
const MAX_IDLE = 8;

const usable = (s: Stream): boolean => s.status === 'open' && s.writeStatus === 'writable' && s.readStatus !== 'closed' && s.remoteWriteStatus === 'writable';

export class StreamPool {
  readonly #idle = new Map<string, PooledStream[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** An idle stream to `peerId` for `protocol`, if one is still good. */
  take(peerId: string, protocol: string): PooledStream | undefined {
    const list = this.#idle.get(`${peerId} ${protocol}`);
    while (list && list.length > 0) {
      const entry = list.pop()!;
      if (usable(entry.stream) && this.now() - entry.idleSince < POOL_IDLE_MS) return entry;
      void entry.stream.close().catch(() => undefined);
    }
    return undefined;
  }

  /** Puts a stream that just finished a request back (or closes it when the pool is full). */
  give(peerId: string, entry: PooledStream): void {
    if (!usable(entry.stream)) return;
    const key = `${peerId} ${entry.stream.protocol}`;
    const list = this.#idle.get(key) ?? [];
    if (list.length >= MAX_IDLE) {
      void entry.stream.close().catch(() => undefined);
      return;
    }
    entry.idleSince = this.now();
    list.push(entry);
    this.#idle.set(key, list);
    // A stream the remote ends while idle leaves the pool by itself.
    entry.stream.addEventListener('close', () => {
      const at = list.indexOf(entry);
      if (at >= 0) list.splice(at, 1);
    }, { once: true });
  }

  /** Closes every idle stream (the node is stopping, or the peer went away). */
  clear(peerId?: string): void {
    for (const [key, list] of this.#idle) {
      if (peerId !== undefined && !key.startsWith(`${peerId} `)) continue;
      for (const e of list) void e.stream.close().catch(() => undefined);
      this.#idle.delete(key);
    }
  }
}
