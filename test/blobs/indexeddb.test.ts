// The IndexedDB backend (browser-level) against the shared blob conformance suite, in Node over
// fake-indexeddb, hashing with the portable SHA-256 a browser runs.

import '../helpers/fake-idb.ts';
import { IndexedDbBlobStore } from '../../src/blobs/core.ts';
import { runBlobConformance } from './conformance.ts';
import { MiB } from './helpers.ts';

let n = 0;
const names = new WeakMap<object, string>();

runBlobConformance('indexeddb', {
  persistent: true,
  open: async () => {
    const name = `blobs-${process.pid}-${n++}`;
    const store = await IndexedDbBlobStore.open({ name });
    names.set(store, name);
    return store;
  },
  reopen: async (store) => IndexedDbBlobStore.open({ name: names.get(store)! }),
  corrupt: (store, id, offset) => (store as IndexedDbBlobStore).corruptForTesting(id, offset),
  // fake-indexeddb clones every value in JavaScript: a smaller large blob keeps the run short.
  largeBytes: 24 * MiB,
  manyBlobs: 300,
});
