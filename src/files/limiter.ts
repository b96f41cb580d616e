// Lets at most N tasks hold a slot at once, in the order they asked; after the first failure of a
// task run through it, tasks not yet started fail at once instead (the caller is giving up anyway).

export class Limiter {
  #active = 0;
  readonly #queue: Array<() => void> = [];
  #failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** Waits for a slot; the function returned gives it back (call it once). */
  async acquire(): Promise<() => void> {
    if (this.#active < this.limit) this.#active++;
    else await new Promise<void>((resolve) => this.#queue.push(resolve));
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // Hand the slot straight to the next in line (the count stays), or free it.
      const next = this.#queue.shift();
      if (next) next();
      else this.#active--;
    };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      if (this.#failure) throw this.#failure.error;
      return await task();
    } catch (err) {
      this.#failure ??= { error: err };
      throw err;
    } finally {
      release();
    }
  }
}
