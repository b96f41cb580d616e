// The page side of the browser mesh test: a whole node for the tab (startBrowserNode over
// IndexedDB, libp2p over WebSockets), put on `window.refugeMesh` for the test to drive.

import { blobs, indexedDbEngine } from '../../src/core.ts';
import { MemoryTrustStore, addPeer, setGrant, startBrowserNode } from '../../src/mesh/core.ts';

(globalThis as Record<string, unknown>).refugeMesh = { IndexedDbBlobStore: blobs.IndexedDbBlobStore, indexedDbEngine, MemoryTrustStore, addPeer, setGrant, startBrowserNode };
