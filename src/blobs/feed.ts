// The in-process change feed: every subscriber gets its own bounded queue. A slow subscriber never
// slows writers down: past its buffer it loses the queued events and gets one `overflow` (resync).

import { badRequest } from '../errors/index.ts';
import type { BlobEvent, SubscribeOptions } from './types.ts';

const DEFAULT_BUFFER = 1024;

class Subscription implements AsyncIterableIterator<BlobEvent> {
  #queue: BlobEvent[] = [];
  #waiter: ((result: IteratorResult<BlobEvent>) => void) | undefined;
  #done = false;

  constructor(
    private readonly bufferSize: number,
    private readonly onEnd: (sub: Subscription) => void,
  ) {}

  push(event: BlobEvent): void {
    if (this.#done) return;
    if (this.#waiter) {
      const resolve = this.#waiter;
      this.#waiter = undefined;
      resolve({ value: event, done: false });
      return;
    }
    if (this.#queue.length >= this.bufferSize) {
      // Everything queued is now useless to a consumer that must re-list anyway.
      this.#queue = [{ type: 'overflow' }];
    }
    this.#queue.push(event);
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.onEnd(this);
    if (this.#waiter) {
      const resolve = this.#waiter;
      this.#waiter = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<BlobEvent>> {
    const event = this.#queue.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<BlobEvent>> {
    this.#queue = [];
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<BlobEvent> {
    return this;
  }
}

export class BlobFeed {
  readonly #subs = new Set<Subscription>();

  subscribe(options: SubscribeOptions = {}): AsyncIterableIterator<BlobEvent> {
    const bufferSize = options.bufferSize ?? DEFAULT_BUFFER;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1) throw badRequest('bufferSize must be a positive integer');
    const { signal } = options;
    const onAbort = () => sub.end();
    const sub = new Subscription(bufferSize, (s) => {
      this.#subs.delete(s);
      signal?.removeEventListener('abort', onAbort);
    });
    if (signal?.aborted) {
      sub.end();
      return sub;
    }
    this.#subs.add(sub);
    signal?.addEventListener('abort', onAbort, { once: true });
    return sub;
  }

  emit(event: BlobEvent): void {
    for (const sub of this.#subs) sub.push(event);
  }

  /** Ends every subscription (the store is closing). */
  endAll(): void {
    for (const sub of [...this.#subs]) sub.end();
  }

  get size(): number {
    return this.#subs.size;
  }
}
