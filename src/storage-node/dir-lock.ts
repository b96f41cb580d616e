// One node per data directory: LevelDB's own lock (fcntl, released by the kernel however the process
// ends, so a crash leaves no stale lock) on a small store kept for it, `<dir>/lock`, taken before
// the node touches anything in the directory, whatever its engine and blob backend.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { openFailure } from './open-failure.ts';

/** Takes the directory's lock (creating the directory); resolves to its release. Throws `locked` when held. */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const store = join(dir, 'lock');
  const lock = new ClassicLevel(store);
  try {
    await lock.open({ createIfMissing: true });
  } catch (err) {
    throw openFailure(store, err, 'data directory', dir);
  }
  return () => lock.close();
}
