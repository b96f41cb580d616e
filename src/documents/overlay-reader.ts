// Point reads through the writer's overlay: values computed but not yet flushed are answered from
// it, everything else from storage. Range scans cannot be overlaid, so they wait for the flush.

import type { KvRange, KvReader, KvStore } from '../storage/index.ts';

export function overlayReader(
  store: KvStore,
  pending: (key: string) => string | null | undefined,
  flushed: () => Promise<void>,
): KvReader {
  // The overlay is consulted before storage: a key not pending then is either already in storage
  // or written later, and a later value is as good an answer for a read that raced with it.
  const get = (key: string): string | undefined => {
    const p = pending(key);
    if (p !== undefined) return p ?? undefined;
    return store.getSync!(key);
  };
  return {
    ...(store.getSync && { getSync: get }),
    async get(key) {
      const p = pending(key);
      if (p !== undefined) return p ?? undefined;
      return store.getSync ? store.getSync(key) : store.get(key);
    },
    async getMany(keys) {
      const queued = keys.map(pending);
      const rest = keys.filter((_, i) => queued[i] === undefined);
      const read = rest.length > 0 ? await store.getMany(rest) : [];
      let r = 0;
      return queued.map((q) => (q === undefined ? read[r++] : (q ?? undefined)));
    },
    async *scan(range: KvRange, chunkSize?: number) {
      await flushed();
      yield* store.scan(range, chunkSize);
    },
    async *scanKeys(range: KvRange, chunkSize?: number) {
      await flushed();
      yield* store.scanKeys(range, chunkSize);
    },
  };
}
