// View cleanup: index data lives under `<root><signature>!`, so the signatures present in a store
// are found by skipping from one to the next (one short read each, never a scan of the rows), and
// every one not in use is deleted as a range.

import type { KvStore } from '../storage/index.ts';

/** Signatures that have data in the store under `root`. */
export async function storedSignatures(store: KvStore, root: string): Promise<string[]> {
  const out: string[] = [];
  const end = root.slice(0, -1) + String.fromCharCode(root.charCodeAt(root.length - 1) + 1);
  let from = root;
  for (;;) {
    let next: string | undefined;
    for await (const keys of store.scanKeys({ gte: from, lt: end, limit: 1 }, 1)) next = keys[0];
    if (next === undefined) return out;
    const bang = next.indexOf('!', root.length);
    if (bang < 0) return out; // not ours: nothing after it is either
    const sig = next.slice(root.length, bang);
    out.push(sig);
    from = root + sig + '"'; // '"' follows '!': past every key of this signature
  }
}

/** Deletes the index data of every signature not in `live`; returns the signatures removed. */
export async function viewCleanup(store: KvStore, live: ReadonlySet<string> | readonly string[], root = 'v!'): Promise<string[]> {
  const keep = live instanceof Set ? live : new Set(live as readonly string[]);
  const removed: string[] = [];
  for (const sig of await storedSignatures(store, root)) {
    if (keep.has(sig)) continue;
    await store.clear({ gte: root + sig + '!', lt: root + sig + '"' });
    removed.push(sig);
  }
  return removed;
}
