// Where a blobs/snapshot command works: a running node over HTTP (--url, the default) or a stopped
// node's data directory opened directly (--data; refused with "in use" while a node runs on it).

import { nodeSha256, type BlobStore, type ScrubReport } from '../blobs/index.ts';
import { HttpBlobStore } from '../blobs/http-store.ts';
import type { GcReport } from '../gc/index.ts';
import type { RefMeta, RefStore, SignedRef } from '../refs/index.ts';
import type { BlobGcStatusWire } from '../http/index.ts';
import { NodeClient } from './node-client.ts';

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
  /** The node's own gc (a running node's; a stopped node runs none, and refuses). */
  gcStatus(): Promise<BlobGcStatusWire>;
  /** Keeps gc from the blobs being written until the answered function is called (a snapshot's). */
  holdGc(): Promise<() => Promise<void>>;
  scrub(): Promise<ScrubReport>;
  pins(): Promise<string[]>;
  pin(root: string): Promise<boolean>;
  unpin(root: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function openTarget(opts: { url?: string | undefined; data?: string | undefined }): Promise<Target> {
  // A data directory opens the whole node: its code loads only then, not for a --url target.
  if (opts.data !== undefined) return (await import('./blobs-data-target.ts')).openDataTarget(opts.data);
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
    gcStatus: client.gcStatus,
    holdGc: client.holdGc,
    scrub: client.scrub,
    pins: client.pins,
    pin: client.pin,
    unpin: client.unpin,
    close: () => store.close(),
  };
}
