// Helpers for the sync tests: Refuge nodes on port 0, a store wrapper that counts puts, and
// event-driven waits on a store's change feed (no sleeps).

import { MemoryBlobStore } from '../../src/blobs/core.ts';
import type { BlobId, BlobSource, BlobStore, PutOptions, PutResult } from '../../src/blobs/core.ts';
import { startServer, type RunningServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import type { RefugeNode } from '../../src/node/index.ts';

export interface TestNode {
  node: RefugeNode;
  server: RunningServer;
  close(): Promise<void>;
}

export async function startNode(admin?: string): Promise<TestNode> {
  const node = await openNode({ engine: 'memory' });
  const server = await startServer({ node, port: 0, replicator: false, ...(admin !== undefined && { admin }) });
  return {
    node,
    server,
    close: async () => {
      await server.close();
      await node.close();
    },
  };
}

/** Counts the puts that reach `store` (and can fail or pause them). */
export function countingStore(store: BlobStore, hooks: { beforePut?: (n: number) => Promise<void> | void } = {}) {
  const counter = { puts: 0, store: undefined as unknown as BlobStore };
  counter.store = new Proxy(store, {
    get(t, key) {
      if (key === 'put') {
        return async (source: BlobSource, options?: PutOptions): Promise<PutResult> => {
          const n = ++counter.puts;
          await hooks.beforePut?.(n);
          return t.put(source, options);
        };
      }
      const v = Reflect.get(t, key, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return counter;
}

/** Resolves once every id in `ids` is on `store`, woken by its `added` events. */
export async function waitForIds(store: BlobStore, ids: readonly BlobId[], timeoutMs = 10_000): Promise<void> {
  const ac = new AbortController();
  const sub = store.subscribe({ signal: ac.signal });
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const want = new Set(ids);
    for (const [i, s] of (await store.stat([...want])).entries()) if (s) want.delete(ids[i]!);
    if (want.size === 0) return;
    for await (const ev of sub) {
      if (ev.type === 'added') want.delete(ev.id);
      if (want.size === 0) return;
    }
    throw new Error(`timed out waiting for ${want.size} blobs`);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

export async function fill(store: BlobStore, n: number, tag: string): Promise<BlobId[]> {
  const ids: BlobId[] = [];
  for (let i = 0; i < n; i++) ids.push((await store.put(new TextEncoder().encode(`${tag} #${i} `.repeat(1 + (i % 50))))).id);
  return ids.sort();
}

export const memory = () => new MemoryBlobStore();
