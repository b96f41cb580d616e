// The sandbox thread's entry module: the thread imports it by URL (this file under tsx, a chunk of
// its own in the esbuild bundle, being dynamically imported) and, inside that thread, it serves.

import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';

export const THREAD_URL = import.meta.url;

const data = (workerData as { refugeSandbox?: { shared: SharedArrayBuffer; port: MessagePort; warm: number[] } } | null)?.refugeSandbox;
if (!isMainThread && parentPort !== null && data !== undefined) {
  // Imported only here: the main thread never loads QuickJS itself.
  const { serve } = await import('./thread-serve.ts');
  await serve(parentPort, data.port, data.shared, data.warm);
}
