// Pins: blob ids (or tree roots) that gc must keep whatever refs say: the interface and the memory
// store (a node without a data directory); the pins.json store is in pins-file.ts.

import { RefugeError } from '../errors/index.ts';
import { parseRoot } from '../files/blocks.ts';

export const PINS_FILE = 'pins.json';

export interface PinStore {
  /** Pinned roots (`sha256-` ids or CIDs), sorted. */
  list(): Promise<string[]>;
  /** True when it was not pinned yet. */
  add(root: string): Promise<boolean>;
  /** True when it was pinned. */
  remove(root: string): Promise<boolean>;
}

/** Checks a pin: a `sha256-` blob id or a CID (bad_request otherwise); returns its canonical text. */
export function checkPin(root: unknown): string {
  if (typeof root !== 'string') throw new RefugeError('bad_request', 'a pin is a blob id or a CID');
  parseRoot(root);
  return root;
}

export class MemoryPinStore implements PinStore {
  readonly #pins = new Set<string>();
  async list(): Promise<string[]> {
    return [...this.#pins].sort();
  }
  async add(root: string): Promise<boolean> {
    const had = this.#pins.has(checkPin(root));
    this.#pins.add(root);
    return !had;
  }
  async remove(root: string): Promise<boolean> {
    return this.#pins.delete(root);
  }
}
