// The node: a data directory holding many databases, opened on the default engine (LevelDB), and
// one blob store — what `refuge start` serves and what an embedding application opens with `openNode()`.

import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_DATA_DIR, resolveEngine, type OpenOptions } from '../index.ts';
import { openBlobStore, type BlobStore } from '../blobs/index.ts';
import type { S3BlobStoreOptions } from '../blobs/index.ts';
import { checkOpenOptions, type Durability } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { checkNodeOptions } from './check-node-options.ts';
import { FsRefStore, loadOrCreateNodeKey } from '../refs/index.ts';
import { FsPinStore } from '../gc/index.ts';
import { RefugeNode } from './refuge-node.ts';
import { DEFAULT_MAX_OPEN_DBS } from './node-options.ts';
import type { AutoCompactionOptions } from './auto-compaction.ts';
import type { AutoBlobGcOptions } from './auto-blob-gc.ts';
import { DEFAULT_CACHE_SIZE, leveldbEngine, lockDirectory } from '../storage-node/index.ts';

export * from './core.ts';

/** Where the node keeps its blobs: fs in DATA/blobs, memory, or an S3-compatible bucket. */
export type NodeBlobOptions =
  | { backend: 'fs'; dir?: string }
  | { backend: 'memory' }
  | ({ backend: 's3' } & S3BlobStoreOptions);

export interface OpenNodeOptions {
  dataDir?: string;
  engine?: OpenOptions['engine'];
  durability?: Durability;
  /** Default: memory when the engine is memory, otherwise fs in `<dataDir>/blobs`; or a store to own. */
  blobs?: NodeBlobOptions | BlobStore;
  /** Limits for design-document functions (default 5 s and 64 MiB per call). */
  sandbox?: { timeoutMs?: number; memoryBytes?: number };
  /** Databases kept open at once (default 100); idle ones past it are closed until used again. */
  maxOpenDbs?: number;
  /** PBKDF2 iterations for passwords written to `_users` (default 600,000; see NodeOptions). */
  passwordIterations?: number;
  /** Told of a database that opened with damaged data dropped (see NodeOptions.onDamage). */
  onDamage?: (dbName: string, loss: string) => void;
  /** Automatic compaction of written databases (default on; see NodeOptions.autoCompaction). */
  autoCompaction?: AutoCompactionOptions | false;
  /**
   * Automatic blob gc (see NodeOptions.blobGc). Default on for the node's own store (fs in its data
   * directory, memory); off for S3 or a store given, which other nodes may share: an attachment
   * this node dropped may be theirs too.
   */
  blobGc?: AutoBlobGcOptions | boolean;
}

/** Whether a node collects dropped attachments by itself unless told: only in a store of its own (not S3, not one given). */
export function blobGcByDefault(blobs: NodeBlobOptions | BlobStore | undefined): boolean {
  return blobs === undefined || (!isStore(blobs) && blobs.backend !== 's3');
}

function blobGcOf(option: AutoBlobGcOptions | boolean | undefined, blobs: NodeBlobOptions | BlobStore | undefined): AutoBlobGcOptions | false {
  if (option === undefined) return blobGcByDefault(blobs) ? {} : false;
  return option === true ? {} : option;
}


function isStore(value: NodeBlobOptions | BlobStore): value is BlobStore {
  return typeof (value as BlobStore).put === 'function';
}

async function openNodeBlobs(dataDir: string, memory: boolean, durability: Durability | undefined, options?: NodeBlobOptions): Promise<BlobStore> {
  const o = options ?? (memory ? { backend: 'memory' as const } : { backend: 'fs' as const });
  switch (o.backend) {
    case 'memory':
      return openBlobStore({ backend: 'memory' });
    case 'fs':
      return openBlobStore({ backend: 'fs', dir: o.dir ?? join(dataDir, 'blobs'), durability: durability === 'fast' ? 'fast' : 'durable' });
    default:
      return openBlobStore(o);
  }
}

/** Block cache all of a node's open LevelDB stores may hold together, at most. */
const NODE_CACHE_BUDGET = 512 * 1024 * 1024;

/**
 * The block cache of each store of a node: its share of NODE_CACHE_BUDGET when every database it
 * may keep open is open, between LevelDB's 8 MiB and the 32 MiB a database opened alone gets.
 */
export function nodeCacheSize(maxOpenDbs: number): number {
  return Math.max(8 * 1024 * 1024, Math.min(DEFAULT_CACHE_SIZE, Math.floor(NODE_CACHE_BUDGET / maxOpenDbs)));
}

/**
 * Removes database directories the catalog does not list: a crash during a deletion (after the
 * catalog said the database is gone, before its files were) leaves them, taking disk space for
 * good. Done before the node is handed out, so nothing creates a database meanwhile. A directory
 * that cannot be removed stays: creating a database of its name removes it first, and says why
 * that fails if it does.
 */
async function removeLeftoverDbs(node: RefugeNode, dir: string): Promise<void> {
  const names = new Set<string>();
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    try {
      names.add(decodeURIComponent(entry.endsWith('.idx') ? entry.slice(0, -'.idx'.length) : entry));
    } catch {
      // Not a name this node encoded: not one of its databases.
    }
  }
  await node.removeUnlisted(names).catch(() => undefined);
}

export async function openNode(options: OpenNodeOptions = {}): Promise<RefugeNode> {
  // Checked before the data directory is locked or anything made in it.
  checkOpenOptions(options);
  checkNodeOptions(options);
  const dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
  if (typeof dataDir !== 'string' || dataDir === '') throw new RefugeError('bad_request', 'dataDir must be a directory path');
  const engine =
    options.engine === undefined || options.engine === 'leveldb'
      ? leveldbEngine({ cacheSize: nodeCacheSize(options.maxOpenDbs ?? DEFAULT_MAX_OPEN_DBS) })
      : resolveEngine(options.engine);
  const memory = engine.name === 'memory';
  const blobBackend = options.blobs === undefined ? (memory ? 'memory' : 'fs') : options.blobs.backend;
  // A node with a data directory keeps its key, refs and pins there; a memory node makes fresh ones.
  const onDisk = !memory || blobBackend !== 'memory';
  // One node per directory, locked before anything in it is touched: a second node would share
  // the first's blobs without knowing its documents, and its blob gc would delete theirs.
  const unlock = onDisk ? await lockDirectory(dataDir) : undefined;
  let blobs: BlobStore | undefined;
  try {
    if (engine.name === 'leveldb') await mkdir(join(dataDir, 'dbs'), { recursive: true });
    blobs = options.blobs && isStore(options.blobs) ? options.blobs : await openNodeBlobs(dataDir, memory, options.durability, options.blobs);
    const key = onDisk ? await loadOrCreateNodeKey(dataDir) : undefined;
    const refs = onDisk ? await FsRefStore.open(join(dataDir, 'refs')) : undefined;
    const node = await RefugeNode.open({
      ...(key && { key }),
      ...(refs && { refs }),
      ...(onDisk && { pins: new FsPinStore(dataDir) }),
      engine,
      durability: options.durability,
      ...(options.sandbox && { sandbox: options.sandbox }),
      ...(options.maxOpenDbs !== undefined && { maxOpenDbs: options.maxOpenDbs }),
      ...(options.passwordIterations !== undefined && { passwordIterations: options.passwordIterations }),
      ...(options.onDamage && { onDamage: options.onDamage }),
      ...(options.autoCompaction !== undefined && { autoCompaction: options.autoCompaction }),
      blobGc: blobGcOf(options.blobGc, options.blobs),
      catalogLocation: join(dataDir, 'catalog'),
      locationOf: (name) => join(dataDir, 'dbs', encodeURIComponent(name)),
      blobs,
      dataDir: onDisk ? dataDir : undefined,
      ...(unlock && { onClosed: unlock }),
    });
    if (engine.name === 'leveldb') await removeLeftoverDbs(node, join(dataDir, 'dbs'));
    return node;
  } catch (err) {
    try {
      await blobs?.close();
    } finally {
      await unlock?.();
    }
    throw err;
  }
}
