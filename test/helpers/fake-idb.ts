// Installs fake-indexeddb's IndexedDB globals: imported (dynamically) only by tests that open the
// IndexedDB engine, so other test processes keep a Node without `indexedDB`.
import 'fake-indexeddb/auto';
