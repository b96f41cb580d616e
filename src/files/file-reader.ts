// Reads a file for a snapshot (Node only) in large windows, one read ahead, so the thread pool copies
// the next window while this thread chunks the current one; chunks are views of these windows, which
// a pool hands out again once the chunks are stored.

import { close, closeSync, open, openSync, read, readSync } from 'node:fs';
import { promisify } from 'node:util';

// Plain descriptors rather than FileHandle: a snapshot opens every file once, and each FileHandle is
// one more object (with its own close bookkeeping) for this thread and the garbage collector.
const openFd = promisify(open);
const closeFd = promisify(close);
const readFd = (fd: number, buf: Uint8Array, length: number, position: number) =>
  new Promise<number>((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));

/** Bytes per read: few calls per file, and a chunk rarely spans two windows (it is copied then). */
export const READ_WINDOW = 8 * 1024 * 1024;

/**
 * A window in shared memory where there is any: a store can then hand its chunks to another thread
 * (the fs store's writer) without copying them.
 */
const newWindow = (size: number): Uint8Array =>
  typeof SharedArrayBuffer === 'function' ? new Uint8Array(new SharedArrayBuffer(size)) : new Uint8Array(size);

/** Free windows a pool keeps (8 MiB each). */
const MAX_FREE = 8;

/**
 * Read windows that come back once every byte read into them is no longer needed: stored, or copied
 * into a chunk spanning two windows (whoever holds the bytes calls `release` once for each piece). A
 * snapshot then reuses a few windows instead of allocating, zeroing and faulting in 8 MiB per read.
 */
export class WindowPool {
  readonly #free: Uint8Array[] = [];
  readonly #lent = new Map<ArrayBufferLike, { window: Uint8Array; left: number }>();

  acquire(): Uint8Array {
    return this.#free.pop() ?? newWindow(READ_WINDOW);
  }

  /** The first `length` bytes of `window` go out (a window with none comes straight back). */
  lend(window: Uint8Array, length: number): void {
    if (length > 0) this.#lent.set(window.buffer, { window, left: length });
    else this.#giveBack(window);
  }

  /** Lent bytes no longer needed; bytes of any other buffer are ignored. */
  release(bytes: Uint8Array): void {
    const entry = this.#lent.get(bytes.buffer);
    if (!entry) return;
    entry.left -= bytes.length;
    if (entry.left > 0) return;
    this.#lent.delete(bytes.buffer);
    this.#giveBack(entry.window);
  }

  #giveBack(window: Uint8Array): void {
    if (this.#free.length < MAX_FREE) this.#free.push(window);
  }
}

/**
 * Yields the file's bytes: in fresh buffers, or in windows of `pool` (then each byte yielded must be
 * released to it once no longer needed). `sizeHint` is the size the scan saw: reads ask for one byte
 * more, so an unchanged file ends on a short read at exactly that size with no extra call to find its
 * end. A file that grew or shrank meanwhile is read on to its real end (a read returning nothing).
 */
export async function* readWindows(path: string, sizeHint: number, signal?: AbortSignal, pool?: WindowPool): AsyncGenerator<Uint8Array> {
  signal?.throwIfAborted();
  const fd = await openFd(path, 'r');
  type Read = { window: Uint8Array; bytes: Uint8Array; short: boolean };
  const readAt = async (position: number): Promise<Read> => {
    const left = sizeHint - position;
    const want = left >= 0 ? Math.min(READ_WINDOW, left + 1) : READ_WINDOW;
    const window = pool ? pool.acquire() : newWindow(want);
    const bytesRead = await readFd(fd, window, want, position);
    return { window, bytes: bytesRead < window.length ? window.subarray(0, bytesRead) : window, short: bytesRead < want };
  };
  let pending: Promise<Read> | undefined;
  try {
    let position = 0;
    pending = readAt(0);
    while (pending) {
      const { window, bytes, short } = await pending;
      pending = undefined;
      signal?.throwIfAborted();
      pool?.lend(window, bytes.length);
      if (bytes.length === 0) return;
      position += bytes.length;
      // A short read at the scanned size is the end; anywhere else the file changed: read on.
      if (!(short && position === sizeHint)) pending = readAt(position);
      yield bytes;
    }
  } finally {
    await pending?.catch(() => {});
    await closeFd(fd);
  }
}

/**
 * Reads a small file whole, with blocking calls: for a few KiB, three thread-pool round trips (open,
 * read, close) cost this thread more than the read itself. The first read asks for the scanned size
 * plus one byte, so an unchanged file takes one; a file that grew is read on to its end.
 */
export function readSmallFile(path: string, sizeHint: number, signal?: AbortSignal): Uint8Array {
  signal?.throwIfAborted();
  const fd = openSync(path, 'r');
  try {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const want = total <= sizeHint ? sizeHint - total + 1 : 64 * 1024;
      const buf = new Uint8Array(want);
      const n = readSync(fd, buf, 0, want, total);
      if (n > 0) parts.push(n < want ? buf.subarray(0, n) : buf);
      total += n;
      if (n === 0 || (n < want && total === sizeHint)) break;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  } finally {
    closeSync(fd);
  }
}
