// Files and folders as IPFS UnixFS trees: raw leaves from the content-defined chunker, balanced
// dag-pb 'file' nodes of at most 174 links, 'directory' nodes with sorted named links, 'symlink' nodes.

import * as dagPb from '@ipld/dag-pb';
import { UnixFS, type Mtime } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import { badRequest } from '../errors/index.ts';
import { DAG_PB_CODEC, RAW_CODEC } from './blocks.ts';
import type { BlockWriter } from './block-writer.ts';
import { chunkStream, type ChunkerOptions } from './chunker.ts';
import { SHARD_THRESHOLD_BYTES, linksBytes, writeShardedDirectory } from './hamt.ts';

/** Links per file node, as IPFS's balanced layout (fits a node in 8 KiB or so). */
export const MAX_LINKS = 174;

export interface Metadata {
  /** Permission bits (0o7777); stored when given. */
  mode?: number;
  mtime?: Mtime;
}

export interface ImportFileOptions extends Metadata {
  chunking?: ChunkerOptions;
  /**
   * A file of at most one chunk and no metadata becomes its raw leaf itself (as IPFS does with raw
   * leaves); default true. With metadata there is always a dag-pb node to carry it.
   */
  reduceSingleLeaf?: boolean;
  /** Called with each chunk's length once it is handed to the writer. */
  onBytes?: (n: number) => void;
  /**
   * Called once for every piece of the source no longer needed: a chunk once stored, or input bytes
   * copied into a chunk that spans two source buffers (so the caller may reuse its buffers).
   */
  release?: (bytes: Uint8Array) => void;
}

/** A link of the tree under construction: its CID, the bytes of file content below it, the tree size. */
interface Link {
  /** Pending while the put that names it runs. */
  cid: CID | Promise<CID>;
  fileSize: number;
  tsize: number;
}

export interface ImportedFile {
  cid: CID;
  /** File bytes. */
  size: number;
  /** Sum of the block sizes of the tree (dag-pb `Tsize`). */
  tsize: number;
}

/** A UnixFS mtime from milliseconds or nanoseconds since the epoch. */
export function mtimeFromNs(ns: bigint): Mtime {
  const secs = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const nsecs = Number(ns - secs * 1_000_000_000n);
  return nsecs === 0 ? { secs } : { secs, nsecs };
}

export const mtimeFromMs = (ms: number): Mtime => mtimeFromNs(BigInt(Math.round(ms * 1e6)));

function checkMetadata(meta: Metadata): void {
  if (meta.mode !== undefined && (!Number.isInteger(meta.mode) || meta.mode < 0 || meta.mode > 0o7777)) {
    throw badRequest(`mode must be an integer in 0..0o7777, got ${meta.mode}`);
  }
}

function unixfs(type: 'file' | 'directory' | 'symlink', meta: Metadata, extra: { blockSizes?: bigint[]; data?: Uint8Array } = {}): UnixFS {
  checkMetadata(meta);
  const node = new UnixFS({ type, ...extra });
  if (meta.mode !== undefined) node.mode = meta.mode;
  if (meta.mtime !== undefined) node.mtime = meta.mtime;
  return node;
}

/** Writes one dag-pb file node over `links` (raw leaves or file nodes). */
async function fileNode(writer: BlockWriter, links: Link[], meta: Metadata): Promise<Link> {
  const node = unixfs('file', meta, { blockSizes: links.map((l) => BigInt(l.fileSize)) });
  const cids = await Promise.all(links.map((l) => l.cid));
  const bytes = dagPb.encode(
    dagPb.prepare({ Data: node.marshal(), Links: links.map((l, i) => ({ Hash: cids[i]!, Name: '', Tsize: l.tsize })) }),
  );
  const cid = await writer.write(bytes, DAG_PB_CODEC);
  let fileSize = 0;
  let tsize = bytes.length;
  for (const l of links) {
    fileSize += l.fileSize;
    tsize += l.tsize;
  }
  return { cid, fileSize, tsize };
}

/**
 * Imports a byte stream as a UnixFS file: content-defined chunks as raw leaves, then a balanced tree
 * built as leaves arrive (never more than 174 pending links per level in memory).
 */
export async function importFile(
  writer: BlockWriter,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ImportFileOptions = {},
): Promise<ImportedFile> {
  return (await startImportFile(writer, source, options)).done;
}

/** A file whose bytes are all handed to the writer; `done` settles once its tree is stored. */
export interface StartedFile {
  done: Promise<ImportedFile>;
}

/**
 * `importFile`, resolving as soon as the source is consumed: the caller may start on the next file
 * while the last blocks of this one are still being stored (and its root node waits for their CIDs).
 */
export async function startImportFile(
  writer: BlockWriter,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: ImportFileOptions = {},
): Promise<StartedFile> {
  const meta: Metadata = {};
  if (options.mode !== undefined) meta.mode = options.mode;
  if (options.mtime !== undefined) meta.mtime = options.mtime;
  checkMetadata(meta);
  const hasMeta = meta.mode !== undefined || meta.mtime !== undefined;
  const wrap = hasMeta || options.reduceSingleLeaf === false;
  // levels[0]: leaves waiting for a parent; levels[k]: nodes of height k waiting for theirs. A full
  // row gets its parent only when one more link arrives, so the root is never written twice.
  const levels: Link[][] = [[]];
  const push = async (level: number, link: Link): Promise<void> => {
    const row = (levels[level] ??= []);
    if (row.length === MAX_LINKS) {
      levels[level] = [];
      await push(level + 1, await fileNode(writer, row, {}));
    }
    levels[level]!.push(link);
  };
  const { release } = options;
  for await (const chunk of chunkStream(source, options.chunking, release)) {
    const { cid } = await writer.add(chunk, RAW_CODEC);
    if (release) {
      const done = () => release(chunk);
      void cid.then(done, done);
    }
    options.onBytes?.(chunk.length);
    await push(0, { cid, fileSize: chunk.length, tsize: chunk.length });
  }
  const done = closeLevels();
  done.catch(() => {}); // the caller awaits it; until then a failure must not count as unhandled
  return { done };

  // Close the levels bottom-up; the first level with nothing above it holds the root's links.
  async function closeLevels(): Promise<ImportedFile> {
    for (let level = 0; ; level++) {
      const row = levels[level] ?? [];
      const above = levels.slice(level + 1).some((r) => r.length > 0);
      if (!above) {
        if (row.length === 0) {
          // An empty file: an empty raw leaf, or a node with metadata and no links.
          const empty = wrap ? await fileNode(writer, [], meta) : { cid: await writer.write(new Uint8Array(0), RAW_CODEC), fileSize: 0, tsize: 0 };
          return finish(empty);
        }
        if (row.length === 1 && !wrap) return finish(row[0]!);
        return finish(await fileNode(writer, row, meta));
      }
      if (row.length > 0) {
        levels[level] = [];
        await push(level + 1, await fileNode(writer, row, {}));
      }
    }
  }

  async function finish(link: Link): Promise<ImportedFile> {
    return { cid: await link.cid, size: link.fileSize, tsize: link.tsize };
  }
}

export interface DirEntryLink {
  name: string;
  cid: CID;
  tsize: number;
}

/** Names a directory entry may have: not empty, no '/', no NUL, not '.' or '..'. */
export function checkEntryName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) {
    throw badRequest(`invalid directory entry name ${JSON.stringify(name)}`);
  }
}

/** Writes a UnixFS directory node: links sorted by name bytes (dag-pb's canonical order). */
export async function writeDirectory(
  writer: BlockWriter,
  entries: readonly DirEntryLink[],
  meta: Metadata = {},
  options: { shardThresholdBytes?: number } = {},
): Promise<ImportedFile> {
  const seen = new Set<string>();
  for (const e of entries) {
    checkEntryName(e.name);
    if (seen.has(e.name)) throw badRequest(`duplicate directory entry ${JSON.stringify(e.name)}`);
    seen.add(e.name);
  }
  // A folder too big for one node becomes a HAMT, as Kubo and Helia shard it (hamt.ts).
  if (linksBytes(entries) > (options.shardThresholdBytes ?? SHARD_THRESHOLD_BYTES)) {
    checkMetadata(meta);
    const { cid, tsize } = await writeShardedDirectory(writer, entries, meta);
    return { cid, size: 0, tsize };
  }
  const node = unixfs('directory', meta);
  const prepared = dagPb.prepare({ Data: node.marshal(), Links: entries.map((e) => ({ Hash: e.cid, Name: e.name, Tsize: e.tsize })) });
  const bytes = dagPb.encode(prepared);
  const cid = await writer.write(bytes, DAG_PB_CODEC);
  return { cid, size: 0, tsize: entries.reduce((n, e) => n + e.tsize, bytes.length) };
}

/** Writes a UnixFS symlink node (the target as its data, stored verbatim). */
export async function writeSymlink(writer: BlockWriter, target: string, meta: Metadata = {}): Promise<ImportedFile> {
  const node = unixfs('symlink', meta, { data: new TextEncoder().encode(target) });
  const bytes = dagPb.encode(dagPb.prepare({ Data: node.marshal(), Links: [] }));
  const cid = await writer.write(bytes, DAG_PB_CODEC);
  return { cid, size: 0, tsize: bytes.length };
}

/** Files below this size may be stored inline: one dag-pb node holding the bytes and the metadata. */
export const INLINE_LIMIT = 64 * 1024;

/**
 * Writes a small file as one UnixFS file node with its bytes as `data` (no leaf): one block per file
 * instead of two, for folders of many small files. Larger input falls back to `importFile`.
 */
export async function writeInlineFile(writer: BlockWriter, bytes: Uint8Array, meta: Metadata = {}, options: ImportFileOptions = {}): Promise<ImportedFile> {
  return (await startInlineFile(writer, bytes, meta, options)).done;
}

/** `writeInlineFile`, resolving once the block is handed to the writer (see `startImportFile`). */
export async function startInlineFile(writer: BlockWriter, bytes: Uint8Array, meta: Metadata = {}, options: ImportFileOptions = {}): Promise<StartedFile> {
  if (bytes.length >= INLINE_LIMIT) return startImportFile(writer, [bytes], { ...options, ...meta });
  const node = unixfs('file', meta, { data: bytes });
  const block = dagPb.encode(dagPb.prepare({ Data: node.marshal(), Links: [] }));
  const { cid } = await writer.add(block, DAG_PB_CODEC);
  options.onBytes?.(bytes.length);
  const done = cid.then((c) => ({ cid: c, size: bytes.length, tsize: block.length }));
  done.catch(() => {}); // awaited by the caller
  return { done };
}
