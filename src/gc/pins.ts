// Pins: blob ids (or tree roots) that gc must keep whatever refs say. Kept in `<dataDir>/pins.json`
// (written to a temp file, fsynced, renamed) or in memory for a node without a data directory.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../platform/durable-file.ts';
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

export class FsPinStore implements PinStore {
  readonly path: string;
  /** One change at a time inside this process. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.path = join(dataDir, PINS_FILE);
  }

  async list(): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as { pins?: unknown };
      if (!Array.isArray(parsed.pins)) throw new Error('no pins array');
      return parsed.pins.map((p) => checkPin(p)).sort();
    } catch (err) {
      // A damaged pin list must stop gc, never make it forget pins.
      throw new RefugeError('internal', `${this.path} is not a valid pin list`, { cause: err });
    }
  }

  #change(fn: (pins: Set<string>) => boolean): Promise<boolean> {
    const run = this.#queue.then(async () => {
      const pins = new Set(await this.list());
      if (!fn(pins)) return false;
      await writeFileDurably(this.path, JSON.stringify({ pins: [...pins].sort() }, null, 1) + '\n');
      return true;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  add(root: string): Promise<boolean> {
    checkPin(root);
    return this.#change((pins) => !pins.has(root) && pins.add(root) !== undefined);
  }

  remove(root: string): Promise<boolean> {
    return this.#change((pins) => pins.delete(root));
  }
}
