// Bytes handed from a parser that pushes them (a multipart or JSON body being read) to the blob
// store that pulls them, one attachment at a time, with back-pressure: the request is read no faster
// than the store takes it.

/** One attachment's bytes, handed from the parser (which pushes) to the blob store (which pulls). */
export class PartQueue implements AsyncIterable<Uint8Array> {
  private chunks: Uint8Array[] = [];
  private ended = false;
  private failure: unknown;
  private wake: (() => void) | undefined;
  private drainedWake: (() => void) | undefined;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.poke();
  }
  end(): void {
    this.ended = true;
    this.poke();
  }
  fail(err: unknown): void {
    this.failure = err;
    this.poke();
  }
  private poke(): void {
    this.wake?.();
    this.wake = undefined;
  }
  /** Resolves once the store has taken every chunk pushed so far (the request is read no faster). */
  drained(): Promise<void> {
    if (this.chunks.length === 0 || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => (this.drainedWake = resolve));
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        if (this.chunks.length === 0) {
          this.drainedWake?.();
          this.drainedWake = undefined;
        }
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
  /** The store stopped reading (it failed): nothing waits on it any more. */
  abandon(): void {
    this.chunks = [];
    this.drainedWake?.();
    this.drainedWake = undefined;
  }
}
