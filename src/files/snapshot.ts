// Folder snapshots (Node only): scan, import every file as a UnixFS tree (only chunks the store lacks
// are written), record the root directory and point a signed ref at it; list a ref's snapshots.

import { resolve } from 'node:path';
import { RefugeError } from '../errors/index.ts';
import type { BlobStore } from '../blobs/types.ts';
import type { NodeKey } from '../refs/keys.ts';
import { verifyRef, type SignedRef } from '../refs/ref.ts';
import { updateRef, type RefStore } from '../refs/store.ts';
import { BlockWriter, type ImportStats } from './block-writer.ts';
import type { ChunkerOptions } from './chunker.ts';
import { WindowPool, readSmallFile, readWindows } from './file-reader.ts';
import { Limiter } from './limiter.ts';
import { PreviousDir, type PreviousSnapshot } from './previous.ts';
import { scanTree, type ScanNode, type Skipped } from './fs-walk.ts';
import { INLINE_LIMIT, mtimeFromNs, startImportFile, startInlineFile, writeDirectory, writeSymlink, type DirEntryLink, type ImportedFile, type StartedFile } from './unixfs.ts';

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
  /** Folders whose links pass this many bytes are written as HAMTs (default 256 KiB, as Kubo). */
  shardThresholdBytes?: number;
  /** Files imported at once (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * An earlier snapshot of the same folder: files unchanged since (same size, mode and mtime, older
   * than its scan) are taken over without being read. By default, with `ref`, the ref's latest value
   * when it was taken of this folder by `createSnapshot`; `false` reads every file.
   */
  previous?: PreviousSnapshot | false;
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
  /** When the scan began (ms since the epoch): pass it with `root` as a later snapshot's `previous`. */
  startedAt: number;
  /** Files taken over from `previous` without being read. */
  reused: number;
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

/** Files started and not yet stored, at most (a bound on memory for trees of very many files). */
const MAX_FILES_AHEAD = 256;

export async function createSnapshot(store: BlobStore, dir: string, options: SnapshotOptions = {}): Promise<SnapshotResult> {
  if (options.ref !== undefined && (!options.refs || !options.key)) {
    throw new RefugeError('bad_request', 'a snapshot ref needs a ref store and the node key');
  }
  const source = resolve(dir);
  const started = performance.now();
  const startedAt = Date.now();
  const previous = options.previous === false ? undefined : (options.previous ?? (options.ref !== undefined && options.refs ? await previousSnapshot(options.refs, options.ref, source) : undefined));
  const scan = await scanTree(source, options.signal);
  const writer = new BlockWriter(store, options.signal ? { signal: options.signal } : {});
  const skipped = [...scan.skipped];
  let files = 0;
  let bytes = 0;
  let reused = 0;
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

  // Files are read a few at once across the whole tree (not folder by folder), so the disk and the
  // writer always have work while this thread reads and chunks. A file gives its slot back once its
  // bytes are handed to the writer, not once they are stored: a folder of small files is not paced
  // by store round trips. A folder's node is written once its entries are. The first failure stops
  // files not yet started.
  const fileSlots = new Limiter(Math.max(1, options.concurrency ?? 4));
  const ahead = new Limiter(MAX_FILES_AHEAD);
  const windows = new WindowPool();
  const fileOptions = {
    ...(options.chunking ? { chunking: options.chunking } : {}),
    onBytes: (n: number) => {
      bytes += n;
      report(false);
    },
    release: (piece: Uint8Array) => windows.release(piece),
  };
  const startFile = async (node: ScanNode & { kind: 'file' }, prev: PreviousDir): Promise<StartedFile | null> => {
    const earlier = await prev.reuse(node);
    if (earlier) {
      reused++;
      bytes += node.size;
      return { done: Promise.resolve(earlier) };
    }
    try {
      // Small files in one read and one block; the rest read in large windows through the chunker.
      return node.size < INLINE_LIMIT
        ? await startInlineFile(writer, readSmallFile(node.path, node.size, options.signal), meta(node), fileOptions)
        : await startImportFile(writer, readWindows(node.path, node.size, options.signal, windows), { ...meta(node), ...fileOptions });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EACCES' && code !== 'EPERM' && code !== 'EISDIR') throw err;
      skipped.push({ path: node.path, reason: code === 'ENOENT' ? 'vanished during the snapshot' : `unreadable (${code})` });
      return null;
    }
  };
  const importNode = async (node: ScanNode, prev: PreviousDir): Promise<ImportedFile | null> => {
    switch (node.kind) {
      case 'symlink':
        return writeSymlink(writer, node.target, { mtime: mtimeFromNs(node.mtimeNs) });
      case 'file': {
        const started = await fileSlots.run(() => startFile(node, prev));
        if (!started) return null;
        const file = await started.done;
        files++;
        report(false);
        return file;
      }
      case 'dir': {
        // Entries start in order, but a folder goes on without waiting for a subfolder to be stored;
        // `ahead` bounds the files started and not yet stored, so a huge tree is not queued at once.
        const pending: Array<Promise<ImportedFile | null>> = [];
        for (const c of node.children) {
          const leave = c.kind === 'file' ? await ahead.acquire() : () => {};
          const entry = importNode(c, c.kind === 'dir' ? prev.subdir(c.name) : prev);
          // Handled here as well: a failure is thrown by Promise.all below, not reported unhandled.
          entry.then(leave, leave);
          pending.push(entry);
        }
        const imported = await Promise.all(pending);
        const links: DirEntryLink[] = [];
        node.children.forEach((c, i) => {
          const got = imported[i];
          if (got) links.push({ name: c.name, cid: got.cid, tsize: got.tsize });
        });
        return writeDirectory(writer, links, meta(node), options.shardThresholdBytes !== undefined ? { shardThresholdBytes: options.shardThresholdBytes } : {});
      }
    }
  };

  const root = await importNode(scan.root, PreviousDir.root(store, previous, options.signal));
  if (!root) throw new RefugeError('not_found', `${source} could not be read`);
  // The ref moves only once every block below the root is stored.
  await writer.flush();
  const result: SnapshotResult = { root: root.cid.toString(), files, bytes, stats: { ...writer.stats }, skipped, elapsedMs: 0, startedAt, reused };
  if (options.ref !== undefined) {
    const meta = { source, files, bytes, newBytes: writer.stats.newBytes, startedAt };
    result.ref = await updateRef(options.refs!, options.key!, options.ref, result.root, meta);
  }
  result.elapsedMs = performance.now() - started;
  report(true);
  return result;
}

/**
 * The ref's latest value as a `previous` for a new snapshot of `source`: only when it is a snapshot
 * of that same folder that recorded when its scan began (`startedAt` in the ref's meta).
 */
export async function previousSnapshot(refs: RefStore, name: string, source: string): Promise<PreviousSnapshot | undefined> {
  const last = (await refs.history(name)).at(-1);
  const meta = last?.meta;
  if (!last || meta?.source !== source || typeof meta.startedAt !== 'number') return undefined;
  verifyRef(last.ref);
  return { root: last.ref.root, startedAt: meta.startedAt };
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
