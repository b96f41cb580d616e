// The IndexedDB engine (browser-level) against the shared storage conformance suite, in Node over
// fake-indexeddb: the engine a browser build uses, snapshots kept by the Level adapter included.

import '../helpers/fake-idb.ts';
import { indexedDbEngine } from '../../src/storage-browser/index.ts';
import { runStorageConformance } from './conformance.ts';

let n = 0;
runStorageConformance('indexeddb', () => indexedDbEngine(), async () => `conformance-${process.pid}-${n++}`, { persistent: true });
