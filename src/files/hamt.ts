// UnixFS HAMT-sharded directories, as Kubo and Helia make them: a folder whose node would be too big
// is split into a hash trie (fanout 256, murmur3-x64-64 of the name) of dag-pb shards; a link name
// is the bucket in two upper-case hex digits, followed by the entry's name for an entry (alone for a
// sub-shard). Written above a size threshold, read wherever one turns up. Portable.

import * as dagPb from '@ipld/dag-pb';
import { murmur3128 } from '@multiformats/murmur3';
import { Bucket, createHAMT } from 'hamt-sharding';
import { UnixFS } from 'ipfs-unixfs';
import type { CID } from 'multiformats/cid';
import { RefugeError } from '../errors/index.ts';
import type { BlobStore } from '../blobs/types.ts';
import type { BlockWriter } from './block-writer.ts';
import { DAG_PB_CODEC, readBlock } from './blocks.ts';

/** Kubo's and Helia's default: shard once the links (names + CIDs) exceed 256 KiB. */
export const SHARD_THRESHOLD_BYTES = 262_144;
/** murmur3-x64-64 in the multicodec table: the hash UnixFS HAMTs use. */
export const HAMT_HASH_TYPE = 0x22n;
const FANOUT_BITS = 8;
const FANOUT = 1 << FANOUT_BITS;
const PAD = (FANOUT - 1).toString(16).length;
const MAX_DEPTH = 64;

/** The first 64 bits of murmur3-x64-128, reversed: what go-ipfs hashes with (and so everyone else). */
async function hamtHash(bytes: Uint8Array): Promise<Uint8Array> {
  return (await murmur3128.encode(bytes)).slice(0, 8).reverse();
}

export interface ShardEntry {
  name: string;
  cid: CID;
  tsize: number;
}

/** The links' size as Kubo estimates it: when it is over the threshold, a folder is sharded. */
export function linksBytes(entries: readonly ShardEntry[]): number {
  let n = 0;
  for (const e of entries) n += new TextEncoder().encode(e.name).length + e.cid.bytes.length;
  return n;
}

/** Writes `entries` as a sharded directory; the root shard carries the folder's metadata. */
export async function writeShardedDirectory(
  writer: BlockWriter,
  entries: readonly ShardEntry[],
  meta: { mode?: number; mtime?: UnixFS['mtime'] },
): Promise<{ cid: CID; tsize: number }> {
  const root = createHAMT<ShardEntry>({ hashFn: hamtHash, bits: FANOUT_BITS });
  for (const e of entries) await root.put(e.name, e);
  return writeBucket(writer, root, meta);
}

async function writeBucket(writer: BlockWriter, bucket: Bucket<ShardEntry>, meta: { mode?: number; mtime?: UnixFS['mtime'] } | undefined): Promise<{ cid: CID; tsize: number }> {
  const children = bucket._children;
  const links: dagPb.PBLink[] = [];
  let tsize = 0;
  for (let i = 0; i < children.length; i++) {
    const child = children.get(i);
    if (child == null) continue;
    const label = i.toString(16).toUpperCase().padStart(PAD, '0');
    if (child instanceof Bucket) {
      const shard = await writeBucket(writer, child, undefined);
      links.push({ Name: label, Hash: shard.cid, Tsize: shard.tsize });
      tsize += shard.tsize;
    } else {
      const e = child.value;
      links.push({ Name: label + e.name, Hash: e.cid, Tsize: e.tsize });
      tsize += e.tsize;
    }
  }
  // The bitfield of occupied buckets, little-endian as go-ipfs stores it.
  const data = Uint8Array.from(children.bitField().reverse());
  const node = new UnixFS({
    type: 'hamt-sharded-directory',
    data,
    fanout: BigInt(FANOUT),
    hashType: HAMT_HASH_TYPE,
    ...(meta?.mode !== undefined && { mode: meta.mode }),
    ...(meta?.mtime !== undefined && { mtime: meta.mtime }),
  });
  const bytes = dagPb.encode(dagPb.prepare({ Data: node.marshal(), Links: links }));
  const cid = await writer.write(bytes, DAG_PB_CODEC);
  return { cid, tsize: tsize + bytes.length };
}

const corrupt = (cid: CID, why: string) => new RefugeError('hash_mismatch', `sharded directory ${cid.toString()} is malformed: ${why}`);

/** Every entry of a sharded directory (any fanout), whatever its depth; in no particular order. */
export async function shardEntries(store: BlobStore, cid: CID, node: dagPb.PBNode, fs: UnixFS, signal?: AbortSignal, depth = 0): Promise<ShardEntry[]> {
  if (depth > MAX_DEPTH) throw corrupt(cid, 'too deep');
  const fanout = Number(fs.fanout ?? 0n);
  if (!Number.isSafeInteger(fanout) || fanout < 2 || fanout > 1 << 16 || (fanout & (fanout - 1)) !== 0) throw corrupt(cid, `fanout ${String(fs.fanout)}`);
  const pad = (fanout - 1).toString(16).length;
  const out: ShardEntry[] = [];
  for (const link of node.Links) {
    const name = link.Name ?? '';
    if (name.length < pad || !/^[0-9A-Fa-f]+$/.test(name.slice(0, pad))) throw corrupt(cid, `link name ${JSON.stringify(name)}`);
    if (name.length > pad) {
      out.push({ name: name.slice(pad), cid: link.Hash, tsize: link.Tsize ?? 0 });
      continue;
    }
    if (link.Hash.code !== DAG_PB_CODEC) throw corrupt(cid, `sub-shard ${name} is not dag-pb`);
    let sub: dagPb.PBNode;
    let subFs: UnixFS;
    try {
      sub = dagPb.decode(await readBlock(store, link.Hash, signal));
      if (!sub.Data) throw new Error('no Data');
      subFs = UnixFS.unmarshal(sub.Data);
    } catch (err) {
      if (err instanceof RefugeError) throw err;
      throw corrupt(link.Hash, err instanceof Error ? err.message : String(err));
    }
    if (subFs.type !== 'hamt-sharded-directory') throw corrupt(link.Hash, `a sub-shard is a ${subFs.type}`);
    out.push(...(await shardEntries(store, link.Hash, sub, subFs, signal, depth + 1)));
  }
  return out;
}
