// One node per data directory: LevelDB's own lock (fcntl, released by the kernel however the process
// ends, so a crash leaves no stale lock) on a small store kept for it, `<dir>/lock`, taken before
// the node touches anything in the directory, whatever its engine and blob backend.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { openFailure } from './open-failure.ts';
import { RefugeError } from '../errors/index.ts';

/** Takes the directory's lock (creating the directory); resolves to its release. Throws `locked` when held. */
export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    // A file where the directory should be (or on its path): the user's mistake, said as such.
    const code = (err as { code?: unknown }).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw notADirectory(dir, err);
    throw err;
  }
  const store = join(dir, 'lock');
  const lock = new ClassicLevel(store);
  try {
    await lock.open({ createIfMissing: true });
  } catch (err) {
    throw openFailure(store, err, 'data directory', dir);
  }
  return () => lock.close();
}

/** A data directory a file stands in place of, or on the path to: the caller's mistake, said as such. */
export function notADirectory(dir: string, cause?: unknown): RefugeError {
  return new RefugeError('bad_request', `the data directory ${dir} is not a directory (a file is in its place or on its path)`, cause === undefined ? {} : { cause });
}
