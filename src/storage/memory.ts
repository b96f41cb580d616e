// The in-memory engine (memory-level): portable, for tests, browsers without IndexedDB and caches.
// Keys are stored as bytes so ordering matches LevelDB's bytewise order exactly.

import { MemoryLevel } from 'memory-level';
import { LevelKvStore } from './level-store.ts';
import type { KvStore, OpenStoreOptions, StorageEngine } from './types.ts';

export const memoryEngine: StorageEngine = {
  name: 'memory',
  async open(_options: OpenStoreOptions): Promise<KvStore> {
    const db = new MemoryLevel<string, string>({ storeEncoding: 'view', keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    return new LevelKvStore(db as any, 'memory', {
      persistent: false,
      syncWrites: false,
      getSync: (db.supports as { getSync?: boolean }).getSync === true,
      approximateSize: false,
      diskSize: false,
      compactRange: false,
    });
  },
  async destroy(_location: string): Promise<void> {
    // Nothing outlives the store object.
  },
};
