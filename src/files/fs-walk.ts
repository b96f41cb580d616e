// Scans a folder before a snapshot (Node only): files, subfolders and symlinks with their modes and
// nanosecond mtimes, in name order; sockets, FIFOs and devices are skipped and reported.

import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RefugeError } from '../errors/index.ts';

interface Base {
  name: string;
  /** Absolute path on disk. */
  path: string;
  /** Permission bits (0o7777). */
  mode: number;
  mtimeNs: bigint;
}

export type ScanNode =
  | (Base & { kind: 'file'; size: number })
  | (Base & { kind: 'dir'; children: ScanNode[] })
  | (Base & { kind: 'symlink'; target: string });

export interface Skipped {
  path: string;
  reason: string;
}

export interface Scan {
  root: ScanNode;
  files: number;
  bytes: number;
  skipped: Skipped[];
}

const byName = (a: { name: string }, b: { name: string }) => (Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));

/** Scans `path` (a folder, a file or a symlink). Entries that vanish meanwhile are skipped. */
export async function scanTree(path: string, signal?: AbortSignal): Promise<Scan> {
  const scan: Scan = { root: undefined as unknown as ScanNode, files: 0, bytes: 0, skipped: [] };
  const visit = async (p: string, name: string): Promise<ScanNode | null> => {
    signal?.throwIfAborted();
    const st = await lstat(p, { bigint: true });
    const base = { name, path: p, mode: Number(st.mode & 0o7777n), mtimeNs: st.mtimeNs };
    if (st.isFile()) {
      scan.files++;
      scan.bytes += Number(st.size);
      return { ...base, kind: 'file', size: Number(st.size) };
    }
    if (st.isSymbolicLink()) return { ...base, kind: 'symlink', target: await readlink(p) };
    if (st.isDirectory()) {
      const children: ScanNode[] = [];
      for (const entry of (await readdir(p)).sort((a, b) => byName({ name: a }, { name: b }))) {
        const child = join(p, entry);
        try {
          const node = await visit(child, entry);
          if (node) children.push(node);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'EPERM') throw err;
          scan.skipped.push({ path: child, reason: code === 'ENOENT' ? 'vanished during the scan' : 'permission denied' });
        }
      }
      return { ...base, kind: 'dir', children };
    }
    scan.skipped.push({ path: p, reason: 'not a regular file, folder or symlink' });
    return null;
  };
  const root = await visit(path, '');
  if (!root) throw new RefugeError('bad_request', `${path} is not a file, folder or symlink`);
  scan.root = root;
  return scan;
}
