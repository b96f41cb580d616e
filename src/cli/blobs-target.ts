// Where a blobs/snapshot command works: a running node over HTTP (--url, the default) or a stopped
// node's data directory opened directly (--data; refused with "in use" while a node runs on it).

import { isRefugeError, RefugeError } from '../errors/index.ts';
import { nodeSha256, type BlobStore, type ScrubReport } from '../blobs/index.ts';
import { HttpBlobStore } from '../blobs/http-store.ts';
import { blobAgeOf, collectGarbage, type GcReport } from '../gc/index.ts';
import { nodeExtraRoots } from '../gc/node-roots.ts';
import { openNode, type RefugeNode } from '../node/index.ts';
import { ownerOf, updateRef, type RefMeta, type RefStore, type SignedRef } from '../refs/index.ts';
import { loadSettings } from './config.ts';
import { NodeClient } from './node-client.ts';
import { blobOptions } from './start.ts';

export const DEFAULT_URL = 'http://127.0.0.1:6986';

export interface Target {
  /** 'url' or 'data', and where. */
  describe: string;
  store: BlobStore;
  refs: RefStore;
  owner(): Promise<string>;
  /** Points `name` at `root`, signed by the node's key. */
  update(name: string, root: string, meta?: RefMeta): Promise<SignedRef>;
  gc(options: { dryRun: boolean; graceSeconds: number; force: boolean }): Promise<GcReport>;
  scrub(): Promise<ScrubReport>;
  pins(): Promise<string[]>;
  pin(root: string): Promise<boolean>;
  unpin(root: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function openTarget(opts: { url?: string | undefined; data?: string | undefined }): Promise<Target> {
  if (opts.data !== undefined) return openDataTarget(opts.data);
  const url = opts.url ?? process.env.REFUGE_URL ?? DEFAULT_URL;
  const client = new NodeClient(url);
  // HttpBlobStore takes credentials from the URL itself.
  const store = new HttpBlobStore({ url, hasher: nodeSha256 });
  return {
    describe: client.url,
    store,
    refs: client.refStore(),
    owner: client.owner,
    update: client.update,
    gc: client.gc,
    scrub: client.scrub,
    pins: client.pins,
    pin: client.pin,
    unpin: client.unpin,
    close: () => store.close(),
  };
}

async function openDataTarget(dir: string): Promise<Target> {
  const settings = loadSettings({ data: dir });
  let node: RefugeNode;
  try {
    node = await openNode({ dataDir: settings.data, engine: settings.engine, durability: settings.durability, blobs: blobOptions(settings) });
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
      collectGarbage(node.blobs, {
        refs: node.refs,
        pins: node.pins,
        extraRoots: nodeExtraRoots(node),
        ageOf: blobAgeOf(node.blobs, node.blobAdds),
        graceMs: o.graceSeconds * 1000,
        dryRun: o.dryRun,
        allowMissing: o.force,
      }),
    scrub: () => node.blobs.scrub(),
    pins: () => node.pins.list(),
    pin: (root) => node.pins.add(root),
    unpin: (root) => node.pins.remove(root),
    close: () => node.close(),
  };
}
