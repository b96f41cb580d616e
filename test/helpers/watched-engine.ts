// Test helper: a storage engine that watches the reads made through snapshots (open snapshots,
// running scans, entries scanned per keyspace), can cut their scans into small chunks, and can run
// a step (a write) between two chunks of a scan, to see what a streamed listing reads, and when.

import type { KvRange, KvSnapshot, KvStore, StorageEngine } from '../../src/storage/index.ts';

export interface ReadWatch {
  /** Snapshots taken and not closed yet. */
  openSnapshots: number;
  /** Snapshot scans begun and not ended yet (their iterators open). */
  openScans: number;
  /** Entries snapshot scans gave, by keyspace letter (`d` documents, `s` sequences). */
  scanned: Record<string, number>;
  /** The ranges snapshot scans were asked for, in order. */
  ranges: KvRange[];
  /** Keys snapshot point reads (get, getMany) asked for, by keyspace letter. */
  got: Record<string, number>;
  /** Entries per chunk of snapshot scans (undefined: as the reader asks). */
  chunk?: number;
  /** Run after each chunk of a snapshot scan, before the reader gets it (the keyspace letter, the chunks given so far, the range). */
  between?: (keyspace: string, chunks: number, range: KvRange) => Promise<void>;
}

function keyspaceOf(range: KvRange): string {
  return (range.gte ?? range.gt ?? range.lte ?? range.lt ?? '?')[0] ?? '?';
}

function watchedSnapshot(snap: KvSnapshot, watch: ReadWatch): KvSnapshot {
  const scan = (method: 'scan' | 'scanKeys') => (range: KvRange, chunkSize?: number) =>
    (async function* () {
      const space = keyspaceOf(range);
      watch.ranges.push(range);
      watch.openScans++;
      let chunks = 0;
      try {
        for await (const chunk of snap[method](range, watch.chunk ?? chunkSize)) {
          watch.scanned[space] = (watch.scanned[space] ?? 0) + chunk.length;
          await watch.between?.(space, ++chunks, range);
          yield chunk as never;
        }
      } finally {
        watch.openScans--;
      }
    })();
  let closed = false;
  return new Proxy(snap, {
    get(target, name) {
      if (name === 'scan' || name === 'scanKeys') return scan(name);
      if (name === 'get' || name === 'getMany') {
        return (keys: string | readonly string[]) => {
          for (const key of typeof keys === 'string' ? [keys] : keys) watch.got[key[0] ?? '?'] = (watch.got[key[0] ?? '?'] ?? 0) + 1;
          return name === 'get' ? target.get(keys as string) : target.getMany(keys as readonly string[]);
        };
      }
      if (name === 'close') {
        return async () => {
          if (!closed) watch.openSnapshots--;
          closed = true;
          await target.close();
        };
      }
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** `inner` with its stores' snapshots watched by `watch`. */
export function watchedEngine(inner: StorageEngine, watch: ReadWatch): StorageEngine {
  const wrap = (store: KvStore): KvStore =>
    new Proxy(store, {
      get(target, name) {
        if (name === 'snapshot') {
          return () => {
            watch.openSnapshots++;
            return watchedSnapshot(target.snapshot(), watch);
          };
        }
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return {
    name: inner.name,
    open: async (options) => wrap(await inner.open(options)),
    destroy: (location) => inner.destroy(location),
  };
}

export function newReadWatch(): ReadWatch {
  return { openSnapshots: 0, openScans: 0, scanned: {}, ranges: [], got: {} };
}
