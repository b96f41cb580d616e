// A data directory that a failing command made itself is removed again: bad input changes nothing.

import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { lockDirectory } from '../storage-node/index.ts';

/**
 * Notes whether `dir` exists now; `undo()` later removes it if it did not, this command's node
 * opened it (held its lock, so it was this command's alone: call `opened` only for a node that
 * holds one) and nothing was kept there. Removed under the directory's lock,
 * taken again once that node is closed: a node another command started meanwhile keeps it.
 */
export function madeDirectory(dir: string): { opened(): void; keep(): void; undo(): Promise<void> } {
  const existed = existsSync(dir);
  let opened = false;
  let kept = false;
  return {
    opened: () => {
      opened = true;
    },
    /** The command has put something there that must outlive a failure: undo leaves it. */
    keep: () => {
      kept = true;
    },
    undo: async () => {
      if (existed || !opened || kept) return;
      let unlock: () => Promise<void>;
      try {
        unlock = await lockDirectory(dir);
      } catch {
        return; // another node holds it now: it is theirs
      }
      try {
        await rm(dir, { recursive: true, force: true });
      } finally {
        await unlock().catch(() => undefined);
      }
    },
  };
}
