// What a failed LevelDB open means: held by another open (this process or another) is `locked`;
// anything else (a read-only or unwritable directory, corruption) is `internal`, with LevelDB's words.

import { RefugeError } from '../errors/index.ts';

/**
 * LevelDB names a held lock as `lock <store>/LOCK: already held by process` (this process) or, from
 * fcntl, `lock <store>/LOCK: Resource temporarily unavailable` / `Permission denied` (another one).
 * A LOCK file it cannot even create (read-only, no permission) is `<store>/LOCK: ...`, without the
 * `lock ` in front: not a held lock. Matched on the store's own path, which may hold any words.
 */
const HELD_REASONS = ['already held by process', 'Resource temporarily unavailable', 'Permission denied'];

/** `store` is the path the LevelDB was opened at; `location` the one to name (default the same). */
export function openFailure(store: string, err: unknown, what = 'database', location = store): RefugeError {
  const detail = String((err as { cause?: unknown })?.cause ?? err).replace(/^Error: /, '');
  const held = HELD_REASONS.some((reason) => detail.endsWith(`lock ${store}/LOCK: ${reason}`));
  if (held) return new RefugeError('locked', `${what} at ${location} is already open (locked by this or another process)`, { cause: err });
  return new RefugeError('internal', `cannot open ${what} at ${location}: ${detail}`, { cause: err });
}
