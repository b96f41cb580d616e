// The IndexedDB backend (browser-level) against the shared blob conformance suite, in Node over
// fake-indexeddb, hashing with the portable SHA-256 a browser runs.

import '../helpers/fake-idb.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IndexedDbBlobStore } from '../../src/blobs/core.ts';
import { runBlobConformance } from './conformance.ts';
import { MiB, randomBytesOf, readAll } from './helpers.ts';

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

test('failed, refused and duplicate uploads leave no parts; an upload cut short is swept', async (t) => {
  const store = await IndexedDbBlobStore.open({ name: `blobs-sweep-${process.pid}` });
  t.after(() => store.close());
  const kept = await store.put(randomBytesOf(600_000));
  const keptKeys = await store.storedKeysForTesting();
  assert.equal(keptKeys.length, 3, 'three parts, no upload marker');
  assert.ok(keptKeys.every((k) => k.startsWith('p!')));
  await store.put(randomBytesOf(1000), { expectedId: kept.id }).catch(() => undefined);
  assert.equal((await store.put((await readAll(await store.get(kept.id))))).created, false);
  async function* failing() {
    yield randomBytesOf(700_000);
    throw new Error('connection reset');
  }
  await assert.rejects(store.put(failing()), /connection reset/);
  assert.deepEqual(await store.storedKeysForTesting(), keptKeys);

  // A tab that went away mid-upload: its parts stay until a sweep finds the upload stale.
  let reached!: () => void;
  const atPause = new Promise<void>((resolve) => (reached = resolve));
  let closeTab!: () => void;
  const tabClosed = new Promise<void>((resolve) => (closeTab = resolve));
  async function* cutShort() {
    yield randomBytesOf(300_000);
    reached();
    await tabClosed;
    throw new Error('tab closed');
  }
  const cut = store.put(cutShort()).then(() => 'stored', (err: Error) => err.message);
  await atPause;
  const during = await store.storedKeysForTesting();
  assert.equal(during.length, keptKeys.length + 2, 'a part and the upload marker');
  await store.sweepForTesting(Date.now() - 60_000);
  assert.equal((await store.storedKeysForTesting()).length, keptKeys.length + 2, 'a recent upload is left alone');
  await store.sweepForTesting(Date.now() + 1);
  assert.deepEqual(await store.storedKeysForTesting(), keptKeys);
  closeTab();
  assert.equal(await cut, 'tab closed');
  assert.deepEqual(await store.storedKeysForTesting(), keptKeys);
  assert.deepEqual([...(await readAll(await store.get(kept.id)))].length, 600_000);
});

test('gc spares an old blob a writer stores again or reuses, though IndexedDB keeps no times of its own', async (t) => {
  const { collectGarbage, blobAgeOf, BlobAddTracker } = await import('../../src/gc/index.ts');
  const { AttachmentBytes } = await import('../../src/documents/index.ts');
  // Only Date is mocked: the tracker's and the store's clock. Stored an hour "ago", then the clock moves on.
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000_000_000 });
  const store = await IndexedDbBlobStore.open({ name: `blobs-ages-${process.pid}` });
  t.after(() => store.close());
  const tracker = new BlobAddTracker(store);
  t.after(() => tracker.stop());
  const again = randomBytesOf(1000);
  const stored = await store.put(again);
  const named = await store.put(randomBytesOf(1000));
  const orphan = await store.put(randomBytesOf(1000));
  t.mock.timers.tick(3600_000);
  assert.equal((await store.put(again, { expectedId: stored.id })).created, false);
  await AttachmentBytes.ofBlob(store, named.id, named.size).storeIn(store, 'a.bin');
  const report = await collectGarbage(store, { ageOf: blobAgeOf(store, tracker), graceMs: 10 * 60_000 });
  assert.deepEqual(report.deleted, [orphan.id], 'only the blob nobody stored again or reused is old enough');
  assert.equal(await store.has(stored.id), true, 'stored again: young');
  assert.equal(await store.has(named.id), true, 'reused by an attachment write: young');
});
