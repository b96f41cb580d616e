// Reading UnixFS trees back out of a BlobStore: stat an entry, stream a file's bytes in order (every
// block verified by the store), list and walk directories. Portable.

import * as dagPb from '@ipld/dag-pb';
import { UnixFS, type Mtime } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import { RefugeError, badRequest } from '../errors/index.ts';
import type { BlobStore } from '../blobs/types.ts';
import { DAG_PB_CODEC, RAW_CODEC, blobIdOfCid as blobIdOf, readBlock } from './blocks.ts';
import { shardEntries } from './hamt.ts';
import { checkEntryName } from './unixfs.ts';

export type EntryType = 'file' | 'directory' | 'symlink';

export interface Entry {
  cid: CID;
  type: EntryType;
  /** File bytes (0 for directories and symlinks). */
  size: number;
  mode?: number;
  mtime?: Mtime;
  /** A symlink's target. */
  target?: string;
}

export interface DirectoryLink {
  name: string;
  cid: CID;
  tsize: number;
}

interface Decoded {
  node: dagPb.PBNode;
  fs: UnixFS;
}

const corrupt = (cid: CID, why: string, cause?: unknown) =>
  new RefugeError('hash_mismatch', `block ${cid.toString()} is not a valid UnixFS node: ${why}`, { cause });

async function decode(store: BlobStore, cid: CID, signal?: AbortSignal): Promise<Decoded> {
  const bytes = await readBlock(store, cid, signal);
  try {
    const node = dagPb.decode(bytes);
    if (!node.Data) throw new Error('no Data');
    return { node, fs: UnixFS.unmarshal(node.Data) };
  } catch (err) {
    throw corrupt(cid, err instanceof Error ? err.message : String(err), err);
  }
}

function checkCodec(cid: CID): void {
  if (cid.code !== RAW_CODEC && cid.code !== DAG_PB_CODEC) throw badRequest(`unsupported codec 0x${cid.code.toString(16)} in ${cid.toString()}`);
}

/** What an entry is: type, size, mode, mtime (a raw block is a file without metadata). */
export async function statEntry(store: BlobStore, cid: CID, signal?: AbortSignal): Promise<Entry> {
  checkCodec(cid);
  if (cid.code === RAW_CODEC) {
    const [stat] = await store.stat([blobIdOf(cid)]);
    if (!stat) throw new RefugeError('not_found', `block ${cid.toString()} not found`);
    return { cid, type: 'file', size: stat.size };
  }
  const { fs } = await decode(store, cid, signal);
  return entryOf(cid, fs);
}

function entryOf(cid: CID, fs: UnixFS): Entry {
  const base = { cid, ...(fs.mtime ? { mtime: fs.mtime } : {}) };
  switch (fs.type) {
    case 'file':
    case 'raw':
      return { ...base, type: 'file', size: Number(fs.fileSize()), mode: fs.mode ?? 0o644 };
    case 'directory':
    case 'hamt-sharded-directory':
      return { ...base, type: 'directory', size: 0, mode: fs.mode ?? 0o755 };
    case 'symlink':
      // A symlink's mode means nothing on most systems (ipfs-unixfs reports 0644 for it): left out.
      return { ...base, type: 'symlink', size: 0, target: new TextDecoder().decode(fs.data ?? new Uint8Array(0)) };
    default:
      throw badRequest(`UnixFS ${fs.type} nodes are not supported (${cid.toString()})`);
  }
}



/**
 * Streams a file's bytes. Leaves are fetched a few ahead (`readAhead`, default 4) so the store's
 * latency overlaps; each block is verified by the store before any of its bytes are yielded.
 */
export async function* readFile(store: BlobStore, cid: CID, options: { signal?: AbortSignal; readAhead?: number } = {}): AsyncGenerator<Uint8Array> {
  checkCodec(cid);
  const ahead = Math.max(1, options.readAhead ?? 4);
  const queue: Array<Promise<Uint8Array>> = [];
  for await (const leaf of leaves(store, cid, options.signal)) {
    if (leaf.bytes) {
      queue.push(Promise.resolve(leaf.bytes));
    } else {
      const p = readBlock(store, leaf.cid!, options.signal);
      p.catch(() => {}); // awaited below, in order
      queue.push(p);
    }
    while (queue.length > ahead) yield await queue.shift()!;
  }
  while (queue.length > 0) yield await queue.shift()!;
}

/** The raw leaves (to fetch) or inline data of a file, in order. */
async function* leaves(store: BlobStore, cid: CID, signal?: AbortSignal): AsyncGenerator<{ cid?: CID; bytes?: Uint8Array }> {
  if (cid.code === RAW_CODEC) {
    yield { cid };
    return;
  }
  const { node, fs } = await decode(store, cid, signal);
  if (fs.type !== 'file' && fs.type !== 'raw') throw badRequest(`${cid.toString()} is a ${fs.type}, not a file`);
  if (fs.data && fs.data.length > 0) yield { bytes: fs.data };
  if (node.Links.length !== fs.blockSizes.length && node.Links.length > 0) throw corrupt(cid, 'links and blockSizes differ');
  for (const link of node.Links) {
    checkCodec(link.Hash);
    yield* leaves(store, link.Hash, signal);
  }
}

/** A directory's entries, in stored (name) order; a sharded directory's in name order too. */
export async function listDirectory(store: BlobStore, cid: CID, signal?: AbortSignal): Promise<DirectoryLink[]> {
  if (cid.code !== DAG_PB_CODEC) throw badRequest(`${cid.toString()} is not a directory`);
  const { node, fs } = await decode(store, cid, signal);
  let links: DirectoryLink[];
  if (fs.type === 'directory') links = node.Links.map((l) => ({ name: l.Name ?? '', cid: l.Hash, tsize: l.Tsize ?? 0 }));
  else if (fs.type === 'hamt-sharded-directory') {
    links = (await shardEntries(store, cid, node, fs, signal)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } else throw badRequest(`${cid.toString()} is a ${fs.type}, not a directory`);
  const seen = new Set<string>();
  for (const { name } of links) {
    checkEntryName(name);
    // Two entries with one name would let a restore write through the first (e.g. a symlink).
    if (seen.has(name)) throw corrupt(cid, `duplicate entry ${JSON.stringify(name)}`);
    seen.add(name);
  }
  return links;
}

export interface WalkEntry extends Entry {
  /** Path relative to the root, '/'-separated; '' for the root itself. */
  path: string;
}

/** Walks a tree depth-first, parents before children, children in name order. */
export async function* walkTree(store: BlobStore, root: CID, signal?: AbortSignal): AsyncGenerator<WalkEntry> {
  async function* visit(cid: CID, path: string): AsyncGenerator<WalkEntry> {
    const entry = await statEntry(store, cid, signal);
    yield { ...entry, path };
    if (entry.type !== 'directory') return;
    for (const link of await listDirectory(store, cid, signal)) {
      yield* visit(link.cid, path === '' ? link.name : `${path}/${link.name}`);
    }
  }
  yield* visit(root, '');
}
