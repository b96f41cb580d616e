// What a failed LevelDB open means: held by another open (this process or another) is `locked`;
// anything else (a read-only or unwritable directory, corruption) is `internal`, with LevelDB's words.

import { RefugeError } from '../errors/index.ts';

/**
 * LevelDB names a held lock as `lock <path>: already held by process` (this process) or, from
 * fcntl, `lock <path>: Resource temporarily unavailable` / `Permission denied` (another one). A
 * LOCK file it cannot even create (read-only, no permission) is `<path>/LOCK: ...`, without the
 * `lock ` in front: not a held lock.
 */
const HELD = /\block \S.*: (already held by process|Resource temporarily unavailable|Permission denied)/;

export function openFailure(location: string, err: unknown, what = 'database'): RefugeError {
  const detail = String((err as { cause?: unknown })?.cause ?? err).replace(/^Error: /, '');
  if (HELD.test(detail)) return new RefugeError('locked', `${what} at ${location} is already open (locked by this or another process)`, { cause: err });
  return new RefugeError('internal', `cannot open ${what} at ${location}: ${detail}`, { cause: err });
}
