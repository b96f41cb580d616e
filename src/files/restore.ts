// Restores a snapshot (Node only): a root CID or `ref[@seq]` written into a new or empty folder,
// byte-identical, with modes and mtimes; every block is verified by the store as it is read.

import { createWriteStream } from 'node:fs';
import { chmod, lutimes, mkdir, readdir, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { Mtime } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import { RefugeError } from '../errors/index.ts';
import type { BlobStore } from '../blobs/types.ts';
import { resolveRef, type RefStore } from '../refs/store.ts';
import { parseRoot } from './blocks.ts';
import { listDirectory, readFile, statEntry } from './export.ts';

export interface RestoreProgress {
  files: number;
  bytes: number;
  rate: number;
  elapsedMs: number;
  done: boolean;
}

export interface RestoreOptions {
  /** Needed when `spec` names a ref. */
  refs?: RefStore;
  onProgress?: (progress: RestoreProgress) => void;
  signal?: AbortSignal;
}

export interface RestoreResult {
  root: string;
  files: number;
  bytes: number;
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

/** A root CID (or `sha256-` id), else a ref name with an optional `@seq`. */
export async function resolveSnapshot(spec: string, refs?: RefStore): Promise<CID> {
  if (/^(sha256-|bafy|bafk|Qm)/.test(spec) && !spec.includes('@')) return parseRoot(spec);
  if (!refs) throw new RefugeError('bad_request', `${spec} is not a CID and no ref store was given`);
  return parseRoot((await resolveRef(refs, spec)).ref.root);
}

const seconds = (m: Mtime): number => Number(m.secs) + (m.nsecs ?? 0) / 1e9;

/** Refuses a destination that exists and is not an empty folder. */
async function checkDest(dest: string): Promise<boolean> {
  try {
    if ((await readdir(dest)).length > 0) throw new RefugeError('file_exists', `${dest} is not empty`);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    if (errno(err) === 'ENOTDIR') throw new RefugeError('file_exists', `${dest} exists and is not a folder`);
    throw err;
  }
}

export async function restoreSnapshot(store: BlobStore, spec: string | CID, dest: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const root = typeof spec === 'string' ? await resolveSnapshot(spec, options.refs) : parseRoot(spec);
  const { signal } = options;
  const started = performance.now();
  const result: RestoreResult = { root: root.toString(), files: 0, bytes: 0 };
  let last = 0;
  const report = (done: boolean): void => {
    const now = performance.now();
    if (!options.onProgress || (!done && now - last < 100)) return;
    last = now;
    const elapsedMs = now - started;
    options.onProgress({ files: result.files, bytes: result.bytes, rate: elapsedMs > 0 ? (result.bytes * 1000) / elapsedMs : 0, elapsedMs, done });
  };
  const existed = await checkDest(dest);

  const restore = async (cid: CID, path: string, isRoot: boolean): Promise<void> => {
    signal?.throwIfAborted();
    const entry = await statEntry(store, cid, signal);
    if (entry.type === 'directory') {
      // mkdir without `recursive` fails on anything already there (never writes through a symlink).
      if (!(isRoot && existed)) await mkdir(path, { mode: 0o700 });
      for (const link of await listDirectory(store, cid, signal)) await restore(link.cid, join(path, link.name), false);
      // The folder's own mode and mtime last: its children no longer change it.
      if (entry.mode !== undefined) await chmod(path, entry.mode);
      if (entry.mtime) await utimes(path, seconds(entry.mtime), seconds(entry.mtime));
    } else if (entry.type === 'symlink') {
      await symlink(entry.target ?? '', path);
      if (entry.mtime) await lutimes(path, seconds(entry.mtime), seconds(entry.mtime)).catch(() => {});
    } else {
      if (isRoot && existed) throw new RefugeError('file_exists', `${dest} is a folder; the snapshot is a single file`);
      // 'wx': exclusive create, never following a symlink planted at the path.
      const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
      const counted = async function* () {
        for await (const chunk of readFile(store, cid, signal ? { signal } : {})) {
          result.bytes += chunk.length;
          report(false);
          yield chunk;
        }
      };
      await pipeline(Readable.from(counted()), out, signal ? { signal } : {});
      await chmod(path, entry.mode ?? 0o644);
      if (entry.mtime) await utimes(path, seconds(entry.mtime), seconds(entry.mtime));
      result.files++;
      report(false);
    }
  };
  await restore(root, dest, true);
  report(true);
  return result;
}
