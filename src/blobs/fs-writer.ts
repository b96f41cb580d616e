// The fs store's writer thread (Node only) for 'fast' durability: a buffer put whole is hashed, written
// and linked in place with plain blocking calls there: one message, instead of a thread-pool round trip
// per call (open, write, close, mkdir, link, unlink), and all of it off the event loop's thread.

import { Worker } from 'node:worker_threads';
import { copyOf } from './chunks.ts';
import { WRITER_SOURCE } from './fs-writer-source.ts';

export interface Written {
  /** SHA-256 of the bytes, lowercase hex. */
  hex: string;
  /**
   * True: stored now; false: it was there already (its age refreshed); undefined: the bytes were
   * not what the caller claimed, nothing was written.
   */
  created?: boolean;
}

interface Reply {
  seq: number;
  error?: { code?: string; message: string };
  [key: string]: unknown;
}

type Waiter = { resolve: (reply: Reply) => void; reject: (err: unknown) => void };

/**
 * What to post for `bytes`: shared memory as it is (no copy), a buffer of their own (cloned whole), or
 * else a copy of just these bytes, since posting a view clones its entire underlying buffer.
 */
export function postable(bytes: Uint8Array): Uint8Array {
  if (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer) return bytes;
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : copyOf(bytes);
}

export class WriterThread {
  #worker: Worker | undefined;
  #seq = 0;
  readonly #waiting = new Map<number, Waiter>();
  readonly #inFlight = new Set<Promise<Reply>>();

  /**
   * Hashes `bytes` (unless the store did: `hex`) and, unless they hash to something else than
   * `expected` (hex) or `probe` finds the blob under `blobsDir` already, writes them to the new file
   * `tmp` and links that in place.
   */
  async put(bytes: Uint8Array, blobsDir: string, tmp: string, options: { probe: boolean; expected?: string; hex?: string }): Promise<Written> {
    const reply = await this.#call({ op: 'put', bytes: postable(bytes), blobsDir, tmp, ...options });
    return typeof reply.created === 'boolean' ? { hex: reply.hex as string, created: reply.created } : { hex: reply.hex as string };
  }

  /** Deletes the blob file `file`: its size, or null when there was none. */
  async remove(file: string): Promise<number | null> {
    return (await this.#call({ op: 'remove', file })).size as number | null;
  }

  /** Calls sent and not answered yet: how far the thread is behind. */
  get backlog(): number {
    return this.#waiting.size;
  }

  /** Waits for the calls in flight, then ends the thread. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#inFlight);
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #call(message: Record<string, unknown>): Promise<Reply> {
    const worker = this.#start();
    const seq = this.#seq++;
    const call = new Promise<Reply>((resolve, reject) => {
      // Referenced only while calls are in flight: an idle store must not keep the process alive.
      if (this.#waiting.size === 0) worker.ref();
      this.#waiting.set(seq, { resolve, reject });
      try {
        worker.postMessage({ ...message, seq });
      } catch (err) {
        this.#settle(seq, (w) => w.reject(err));
      }
    });
    this.#inFlight.add(call);
    const forget = () => void this.#inFlight.delete(call);
    call.then(forget, forget);
    return call.then((reply) => {
      // The thread's errors keep their errno code, so callers tell EEXIST or ENOENT apart as usual.
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error.code ? { code: reply.error.code } : {});
      return reply;
    });
  }

  #settle(seq: number, settle: (w: Waiter) => void): void {
    const waiter = this.#waiting.get(seq);
    if (!waiter) return;
    this.#waiting.delete(seq);
    if (this.#waiting.size === 0) this.#worker?.unref();
    settle(waiter);
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    // Plain JavaScript evaluated in the thread: it needs no TypeScript loader (nor the parent's flags).
    const worker = new Worker(WRITER_SOURCE, { eval: true, execArgv: [] });
    worker.unref();
    worker.on('message', (reply: Reply) => this.#settle(reply.seq, (w) => w.resolve(reply)));
    const fail = (err: unknown) => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const seq of [...this.#waiting.keys()]) this.#settle(seq, (w) => w.reject(err));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the blob writer thread exited (${code})`)));
    this.#worker = worker;
    return worker;
  }
}
