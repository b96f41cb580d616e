// Reachability: every blob a set of UnixFS roots needs, found by walking dag-pb links (raw leaves
// are never read). gc deletes only blobs outside this set; a ref pull fills it from a peer as it walks.

import * as dagPb from '@ipld/dag-pb';
import { RefugeError } from '../errors/index.ts';
import type { BlobId } from '../blobs/id.ts';
import type { BlobStore } from '../blobs/types.ts';
import { DAG_PB_CODEC, blobIdOfCid, parseRoot, readBlock } from './blocks.ts';
import type { CID } from 'multiformats/cid';

export interface Reachability {
  /** Every blob reachable from the roots (present or not). */
  reachable: Set<BlobId>;
  /** Reachable blobs the store does not have (a damaged tree); sorted. */
  missing: BlobId[];
}

/**
 * Walks the trees under `roots` (CIDs, CID strings or `sha256-` ids of raw blobs). A dag-pb node that
 * cannot be decoded fails the walk (`hash_mismatch`): a collector must not guess what it pointed at.
 */
export async function reachableBlobs(
  store: BlobStore,
  roots: Iterable<CID | string>,
  options: {
    signal?: AbortSignal;
    concurrency?: number;
    /**
     * Called with each level's blobs before they are read (dag-pb nodes) or looked for (leaves):
     * a copy from elsewhere (a peer) can bring the missing ones in, so the walk goes on below them.
     */
    fill?: (ids: BlobId[]) => Promise<void>;
  } = {},
): Promise<Reachability> {
  const reachable = new Set<BlobId>();
  const missing: BlobId[] = [];
  const leaves: BlobId[] = [];
  let frontier: CID[] = [];
  const add = (cid: CID): void => {
    const id = blobIdOfCid(cid);
    if (reachable.has(id)) return;
    reachable.add(id);
    if (cid.code === DAG_PB_CODEC) frontier.push(cid);
    else leaves.push(id);
  };
  for (const root of roots) add(parseRoot(root));
  const limit = Math.max(1, options.concurrency ?? 16);
  while (frontier.length > 0) {
    const level = frontier;
    frontier = [];
    if (options.fill) await options.fill(level.map(blobIdOfCid));
    for (let i = 0; i < level.length; i += limit) {
      await Promise.all(
        level.slice(i, i + limit).map(async (cid) => {
          let bytes: Uint8Array;
          try {
            bytes = await readBlock(store, cid, options.signal);
          } catch (err) {
            if (err instanceof RefugeError && err.code === 'not_found') {
              missing.push(blobIdOfCid(cid));
              return;
            }
            throw err;
          }
          let node: dagPb.PBNode;
          try {
            node = dagPb.decode(bytes);
          } catch (err) {
            throw new RefugeError('hash_mismatch', `block ${cid.toString()} is not valid dag-pb`, { cause: err });
          }
          for (const link of node.Links) add(link.Hash);
        }),
      );
    }
  }
  // Leaves are only checked for presence, many at once.
  for (let i = 0; i < leaves.length; i += 1000) {
    const batch = leaves.slice(i, i + 1000);
    if (options.fill) await options.fill(batch);
    const stats = await store.stat(batch);
    stats.forEach((s, j) => {
      if (s === null) missing.push(batch[j]!);
    });
  }
  missing.sort();
  return { reachable, missing };
}
