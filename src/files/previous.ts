// Takes over unchanged files from an earlier snapshot of the same folder without reading them: same
// size, mode and mtime as the earlier tree recorded, that mtime safely before the earlier scan began,
// and every block of the file's tree still in the store. Any doubt (or error) means reading it again.

import type { Mtime } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import type { BlobStore } from '../blobs/types.ts';
import { parseRoot } from './blocks.ts';
import { listDirectory, statEntry, type DirectoryLink } from './export.ts';
import type { ScanNode } from './fs-walk.ts';
import { reachableBlobs } from './reachable.ts';
import { INLINE_LIMIT, mtimeFromNs, type ImportedFile } from './unixfs.ts';

export interface PreviousSnapshot {
  /** The earlier snapshot's root CID. */
  root: string;
  /** When that snapshot began its scan (ms since the epoch). */
  startedAt: number;
}

/**
 * A file modified this close to (or after) the earlier scan's start is read again: its mtime may not
 * have moved on a later write (coarse file times: 2 s on FAT, 1 s on some network filesystems).
 */
const RACY_MS = 2000;

const sameMtime = (a: Mtime | undefined, b: Mtime): boolean => a !== undefined && a.secs === b.secs && (a.nsecs ?? 0) === (b.nsecs ?? 0);

interface Context {
  store: BlobStore;
  /** Files with an mtime at or after this (ns since the epoch) are never taken over. */
  cutoffNs: bigint;
  signal: AbortSignal | undefined;
}

/** A folder of the earlier snapshot (or of none: then nothing is taken over), listed when first asked. */
export class PreviousDir {
  readonly #ctx: Context | undefined;
  readonly #cid: Promise<CID | undefined>;
  #entries: Promise<Map<string, DirectoryLink>> | undefined;

  private constructor(ctx: Context | undefined, cid: Promise<CID | undefined>) {
    this.#ctx = ctx;
    this.#cid = cid;
  }

  /** The root folder of `previous`, or an empty stand-in without one. */
  static root(store: BlobStore, previous: PreviousSnapshot | undefined, signal?: AbortSignal): PreviousDir {
    if (!previous) return new PreviousDir(undefined, Promise.resolve(undefined));
    const cutoffNs = BigInt(Math.floor(previous.startedAt - RACY_MS)) * 1_000_000n;
    let root: CID | undefined;
    try {
      root = parseRoot(previous.root);
    } catch {
      root = undefined;
    }
    return new PreviousDir({ store, cutoffNs, signal }, Promise.resolve(root));
  }

  /** The subfolder `name` (an empty stand-in when the earlier snapshot had none). */
  subdir(name: string): PreviousDir {
    return new PreviousDir(this.#ctx, this.#list().then((entries) => entries.get(name)?.cid));
  }

  /** The earlier tree's file for this scanned file, when it can be taken over unread; else null. */
  async reuse(node: ScanNode & { kind: 'file' }): Promise<ImportedFile | null> {
    const ctx = this.#ctx;
    // Small files cost about as much to check as to read: they are always read.
    if (!ctx || node.size < INLINE_LIMIT || node.mtimeNs >= ctx.cutoffNs) return null;
    const link = (await this.#list()).get(node.name);
    if (!link) return null;
    try {
      const entry = await statEntry(ctx.store, link.cid, ctx.signal);
      if (entry.type !== 'file' || entry.size !== node.size || entry.mode !== node.mode || !sameMtime(entry.mtime, mtimeFromNs(node.mtimeNs))) return null;
      // The earlier ref keeps these blocks from gc, but a damaged store may have lost some.
      const { missing } = await reachableBlobs(ctx.store, [link.cid], ctx.signal ? { signal: ctx.signal } : {});
      if (missing.length > 0) return null;
      return { cid: link.cid, size: node.size, tsize: link.tsize };
    } catch (err) {
      return this.#doubt(err);
    }
  }

  #list(): Promise<Map<string, DirectoryLink>> {
    this.#entries ??= this.#cid.then(async (cid) => {
      if (!cid || !this.#ctx) return new Map();
      try {
        return new Map((await listDirectory(this.#ctx.store, cid, this.#ctx.signal)).map((l) => [l.name, l]));
      } catch (err) {
        return this.#doubt(err) ?? new Map();
      }
    });
    return this.#entries;
  }

  /** An unreadable, damaged or odd earlier tree only means reading files again; an abort still stops. */
  #doubt(_err: unknown): null {
    if (this.#ctx?.signal?.aborted) throw this.#ctx.signal.reason;
    return null;
  }
}
