// The pin list of a node with a data directory: `pins.json`, rewritten durably on each change.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../platform/durable-file.ts';
import { RefugeError } from '../errors/index.ts';
import { PINS_FILE, checkPin, type PinStore } from './pins.ts';

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
    const pin = checkPin(root);
    return this.#change((pins) => !pins.has(pin) && pins.add(pin) !== undefined);
  }

  remove(root: string): Promise<boolean> {
    const pin = checkPin(root);
    return this.#change((pins) => pins.delete(pin));
  }
}
