// Node-only: small files written so a crash leaves either the old file or the whole new one —
// a temp file beside the target, fsynced, moved in place, then the directory entry fsynced.
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export interface DurableWriteOptions {
  /** File mode of the new file (default 0o644). */
  mode?: number;
  /** true (default): replace an existing file; false: fail with EEXIST when `path` exists (link, never rename). */
  replace?: boolean;
  /** Where the temp file goes (same filesystem as `path`; default its directory). */
  tempDir?: string;
}

export async function writeFileDurably(path: string, data: string | Uint8Array, options: DurableWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const temp = join(options.tempDir ?? dir, `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}`);
  const fh = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (options.replace === false) {
    try {
      await link(temp, path);
    } finally {
      await unlink(temp).catch(() => {});
    }
  } else {
    try {
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
  }
  await syncDir(dir);
}
