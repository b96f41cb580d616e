// Serialises work per key (a blob id) inside one store object, so the check-then-commit of two puts
// or a put and a delete of the same blob never interleave, and `created` is reported once.

export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    try {
      return await result;
    } finally {
      // Forget the key once nothing else queued behind us, so the map does not grow without bound.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
