// The in-memory engine (memory-level): portable, for tests, browsers without IndexedDB and caches.
// Keys and values are kept as JavaScript strings (no UTF-8 encoding per operation, native string
// comparison), with each key's UTF-16 code units remapped so that their order is LevelDB's bytewise
// UTF-8 order: the two differ only where surrogates (astral characters) meet U+E000..U+FFFF.

import { MemoryLevel } from 'memory-level';
import { LevelKvStore } from './level-store.ts';
import type { KvStore, OpenStoreOptions, StorageEngine } from './types.ts';

const HIGH_UNITS = /[\ud800-\uffff]/;

/**
 * Code units D800–DFFF move above E000–FFFF (to F800–FFFF, which moves down to D800–F7FF): code-unit
 * order then is code-point order, which is UTF-8 byte order. Strings with neither (nearly every
 * key) are left as they are. A bijection on code units, so `decode` undoes it exactly.
 */
function remap(key: string, toStored: boolean): string {
  if (!HIGH_UNITS.test(key)) return key;
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    let d = c;
    if (toStored) {
      if (c >= 0xd800 && c <= 0xdfff) d = c + 0x2000;
      else if (c >= 0xe000) d = c - 0x800;
    } else if (c >= 0xf800) d = c - 0x2000;
    else if (c >= 0xd800) d = c + 0x800;
    out += String.fromCharCode(d);
  }
  return out;
}

const codePointOrder = {
  name: 'refuge-code-point-order',
  format: 'utf8' as const,
  encode: (key: string) => remap(key, true),
  decode: (stored: string) => remap(stored, false),
};

/** Written by `flat`, only so that no compiler drops the read that flattens. */
let flattened = 0;

/**
 * Values are stored flat. A value built by concatenation (a record is its head, a line break and its
 * body) is a tree of its pieces in V8 until something reads its characters, and it would be stored
 * so: 100k documents took 1.56 KB of heap each, against 0.96 flat, and the first read of each paid
 * for the flattening (an all-docs read of them ran at ~350k docs/s against ~500k). LevelDB's binding
 * flattens a value as it encodes it; here reading one character does it, in place.
 */
const flat = {
  name: 'refuge-flat-utf8',
  format: 'utf8' as const,
  encode: (value: string) => {
    flattened ^= value.charCodeAt(value.length >> 1);
    return value;
  },
  decode: (stored: string) => stored,
};

export const memoryEngine: StorageEngine = {
  name: 'memory',
  async open(_options: OpenStoreOptions): Promise<KvStore> {
    const db = new MemoryLevel<string, string>({ storeEncoding: 'utf8', keyEncoding: codePointOrder, valueEncoding: flat } as never);
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
