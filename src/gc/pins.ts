// Pins: blob ids (or tree roots) that gc must keep whatever refs say: the interface and the memory
// store (a node without a data directory); the pins.json store is in pins-file.ts.

import { RefugeError } from '../errors/index.ts';
import { blobIdOfCid, parseRoot, RAW_CODEC } from '../files/blocks.ts';

export const PINS_FILE = 'pins.json';

export interface PinStore {
  /** Pinned roots (`sha256-` ids or CIDs), sorted. */
  list(): Promise<string[]>;
  /** True when it was not pinned yet. */
  add(root: string): Promise<boolean>;
  /** True when it was pinned. */
  remove(root: string): Promise<boolean>;
}

/**
 * Checks a pin: a `sha256-` blob id or a CID (bad_request otherwise); returns its canonical text, so
 * one root is one pin however it was spelled: a raw CID is its blob id, a tree's a base32 CIDv1.
 */
export function checkPin(root: unknown): string {
  if (typeof root !== 'string') throw new RefugeError('bad_request', 'a pin is a blob id or a CID');
  const cid = parseRoot(root);
  return cid.code === RAW_CODEC ? blobIdOfCid(cid) : cid.toString();
}

export class MemoryPinStore implements PinStore {
  readonly #pins = new Set<string>();
  async list(): Promise<string[]> {
    return [...this.#pins].sort();
  }
  async add(root: string): Promise<boolean> {
    const pin = checkPin(root);
    const had = this.#pins.has(pin);
    this.#pins.add(pin);
    return !had;
  }
  async remove(root: string): Promise<boolean> {
    return this.#pins.delete(checkPin(root));
  }
}

/** `pins` telling `onRemoved` of each root it unpinned (the node's automatic gc looks then). */
export function watchedPins(pins: PinStore, onRemoved: (root: string) => void): PinStore {
  return {
    list: () => pins.list(),
    add: (root) => pins.add(root),
    remove: async (root) => {
      const removed = await pins.remove(root);
      if (removed) onRemoved(checkPin(root));
      return removed;
    },
  };
}
