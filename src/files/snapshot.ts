// Folder snapshots (Node only): scan, import every file as a UnixFS tree (only chunks the store lacks
// are written), record the root directory and point a signed ref at it; list a ref's snapshots.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RefugeError } from '../errors/index.ts';
import { mapLimit } from '../blobs/base.ts';
import { nodeSha256 } from '../blobs/hash-node.ts';
import type { BlobStore } from '../blobs/types.ts';
import type { NodeKey } from '../refs/keys.ts';
import type { SignedRef } from '../refs/ref.ts';
import { updateRef, type RefStore } from '../refs/store.ts';
import { BlockWriter, type ImportStats } from './block-writer.ts';
import type { ChunkerOptions } from './chunker.ts';
import { scanTree, type ScanNode, type Skipped } from './fs-walk.ts';
import { INLINE_LIMIT, importFile, mtimeFromNs, writeDirectory, writeInlineFile, writeSymlink, type DirEntryLink, type ImportedFile } from './unixfs.ts';

export interface SnapshotProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  /** Bytes of blocks the store did not have yet. */
  newBytes: number;
  /** Bytes per second so far. */
  rate: number;
  elapsedMs: number;
  done: boolean;
}

export interface SnapshotOptions {
  /** Ref to point at the new root (needs `refs` and `key`). */
  ref?: string;
  refs?: RefStore;
  key?: NodeKey;
  onProgress?: (progress: SnapshotProgress) => void;
  /** Least time between two progress calls (default 100 ms; the last call always comes). */
  progressIntervalMs?: number;
  chunking?: ChunkerOptions;
  /** Files imported at once (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface SnapshotResult {
  /** CID of the root (a UnixFS directory for a folder). */
  root: string;
  files: number;
  bytes: number;
  stats: ImportStats;
  /** Entries left out (special files, unreadable or vanished ones). */
  skipped: Skipped[];
  ref?: SignedRef;
  elapsedMs: number;
}

export interface SnapshotInfo {
  seq: number;
  root: string;
  timestamp: number;
  owner: string;
  source?: string;
  files?: number;
  bytes?: number;
}

export async function createSnapshot(store: BlobStore, dir: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
  if (options.ref !== undefined && (!options.refs || !options.key)) {
    throw new RefugeError('bad_request', 'a snapshot ref needs a ref store and the node key');
  }
  const source = resolve(dir);
  const started = performance.now();
  const scan = await scanTree(source, options.signal);
  const writer = new BlockWriter(store, { hasher: nodeSha256, ...(options.signal ? { signal: options.signal } : {}) });
  const skipped = [...scan.skipped];
  let files = 0;
  let bytes = 0;
  let last = 0;
  const interval = options.progressIntervalMs ?? 100;
  const report = (done: boolean): void => {
    if (!options.onProgress) return;
    const now = performance.now();
    if (!done && now - last < interval) return;
    last = now;
    const elapsedMs = now - started;
    options.onProgress({
      files, totalFiles: scan.files, bytes, totalBytes: Math.max(bytes, scan.bytes), newBytes: writer.stats.newBytes,
      rate: elapsedMs > 0 ? (bytes * 1000) / elapsedMs : 0, elapsedMs, done,
    });
  };
  const meta = (n: ScanNode) => ({ mode: n.mode, mtime: mtimeFromNs(n.mtimeNs) });

  const importNode = async (node: ScanNode): Promise<ImportedFile | null> => {
    switch (node.kind) {
      case 'symlink':
        return writeSymlink(writer, node.target, { mtime: mtimeFromNs(node.mtimeNs) });
      case 'file':
        try {
          const fileOptions = {
            ...(options.chunking ? { chunking: options.chunking } : {}),
            onBytes: (n: number) => {
              bytes += n;
              report(false);
            },
          };
          // Small files in one read and one block; the rest streamed through the chunker.
          const file =
            node.size < INLINE_LIMIT
              ? await writeInlineFile(writer, await readFile(node.path, options.signal ? { signal: options.signal } : {}), meta(node), fileOptions)
              : await importFile(writer, createReadStream(node.path, { highWaterMark: 1024 * 1024, ...(options.signal ? { signal: options.signal } : {}) }), {
                  ...meta(node),
                  ...fileOptions,
                });
          files++;
          report(false);
          return file;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'EPERM' && code !== 'EISDIR') throw err;
          skipped.push({ path: node.path, reason: code === 'ENOENT' ? 'vanished during the snapshot' : `unreadable (${code})` });
          return null;
        }
      case 'dir': {
        // Subfolders one after another (depth first), the files of one folder a few at once.
        const links: DirEntryLink[] = [];
        const files = node.children.filter((c) => c.kind !== 'dir');
        const imported = await mapLimit(files, Math.max(1, options.concurrency ?? 4), importNode);
        files.forEach((c, i) => {
          const got = imported[i];
          if (got) links.push({ name: c.name, cid: got.cid, tsize: got.tsize });
        });
        for (const c of node.children) {
          if (c.kind !== 'dir') continue;
          const got = await importNode(c);
          if (got) links.push({ name: c.name, cid: got.cid, tsize: got.tsize });
        }
        return writeDirectory(writer, links, meta(node));
      }
    }
  };

  const root = await importNode(scan.root);
  if (!root) throw new RefugeError('not_found', `${source} could not be read`);
  // The ref moves only once every block below the root is stored.
  await writer.flush();
  const result: SnapshotResult = { root: root.cid.toString(), files, bytes, stats: { ...writer.stats }, skipped, elapsedMs: 0 };
  if (options.ref !== undefined) {
    result.ref = await updateRef(options.refs!, options.key!, options.ref, result.root, { source, files, bytes, newBytes: writer.stats.newBytes });
  }
  result.elapsedMs = performance.now() - started;
  report(true);
  return result;
}

/** The snapshots a ref has pointed at, oldest first. */
export async function listSnapshots(refs: RefStore, name: string): Promise<SnapshotInfo[]> {
  return (await refs.history(name)).map(({ ref, meta }) => {
    const info: SnapshotInfo = { seq: ref.seq, root: ref.root, timestamp: ref.timestamp, owner: ref.owner };
    if (typeof meta?.source === 'string') info.source = meta.source;
    if (typeof meta?.files === 'number') info.files = meta.files;
    if (typeof meta?.bytes === 'number') info.bytes = meta.bytes;
    return info;
  });
}
