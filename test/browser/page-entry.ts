// The page side of the browser test: the portable core as a browser build bundles it, put on
// `window.refuge` for the test to drive through Playwright.

import { blobs, HttpPeer, indexedDbEngine, LocalPeer, openCoreDatabase, Replication } from '../../src/core.ts';

(globalThis as Record<string, unknown>).refuge = { HttpPeer, IndexedDbBlobStore: blobs.IndexedDbBlobStore, indexedDbEngine, LocalPeer, openCoreDatabase, Replication };
