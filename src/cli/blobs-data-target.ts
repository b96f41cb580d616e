// A `refuge blobs`/`snapshot` target that is a stopped node's data directory: the node opened in
// this process, its blob store, refs, pins and garbage collection used directly.

import { isRefugeError, RefugeError } from '../errors/index.ts';
import { openNode, type RefugeNode } from '../node/index.ts';
import { ownerOf, updateRef } from '../refs/index.ts';
import type { Target } from './blobs-target.ts';
import { loadSettings } from './config.ts';
import { blobOptions } from './start.ts';

export async function openDataTarget(dir: string): Promise<Target> {
  const settings = loadSettings({ data: dir });
  let node: RefugeNode;
  try {
    // Opened for one command: gc runs only when that command asks for it.
    node = await openNode({ dataDir: settings.data, engine: settings.engine, durability: settings.durability, blobs: blobOptions(settings), blobGc: false });
  } catch (err) {
    if (isRefugeError(err, 'locked')) {
      throw new RefugeError('conflict', `data directory ${dir} is in use (a node is running on it): stop it, or use --url`, { cause: err });
    }
    throw err;
  }
  return {
    describe: dir,
    store: node.blobs,
    refs: node.refs,
    owner: async () => ownerOf(node.key.publicKey),
    update: (name, root, meta) => updateRef(node.refs, node.key, name, root, meta),
    gc: (o) =>
      node.collectBlobGarbage({ graceMs: o.graceSeconds * 1000, dryRun: o.dryRun, allowMissing: o.force }),
    gcStatus: async () => {
      throw new RefugeError('bad_request', `a stopped node runs no gc of its own: ask the running node (--url), not its data directory`);
    },
    // This process holds the directory: no gc runs but the one a command asks for.
    holdGc: async () => async () => undefined,
    scrub: () => node.blobs.scrub(),
    pins: () => node.pins.list(),
    pin: (root) => node.pins.add(root),
    unpin: (root) => node.pins.remove(root),
    close: () => node.close(),
  };
}
