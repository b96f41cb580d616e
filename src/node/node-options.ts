// What a RefugeNode is opened with (kept apart from refuge-node.ts, as mesh-node-options.ts is,
// so that file stays about behaviour).

import type { BlobStore } from '../blobs/core.ts';
import type { Durability } from '../documents/index.ts';
import type { StorageEngine } from '../storage/index.ts';
import type { NodeKey } from '../refs/keys.ts';
import type { RefStore } from '../refs/store.ts';
import type { PinStore } from '../gc/pins.ts';
import type { AutoCompactionOptions } from './auto-compaction.ts';
import type { AutoBlobGcOptions } from './auto-blob-gc.ts';

export interface NodeOptions {
  engine: StorageEngine;
  /**
   * Told when a database opens with data its storage dropped as damaged (a corrupt log block, say):
   * acknowledged documents may be gone, and nothing else would say so.
   */
  onDamage?: (dbName: string, loss: string) => void;
  /** Where the catalog and the databases live, as the engine understands locations. */
  locationOf: (dbName: string) => string;
  /** Where a database's indexes (views, search) live; default beside it, `<location>.idx`. */
  indexLocationOf?: (dbName: string) => string;
  catalogLocation: string;
  durability?: Durability;
  /** The node's blob store, closed with the node (default: a fresh memory store). */
  blobs?: BlobStore;
  /** The node's data directory on disk, when it has one (staged uploads live under it). */
  dataDir?: string;
  /** The node's Ed25519 key (mesh identity, signer of its refs); default a fresh one. */
  key?: NodeKey;
  /** Signed refs (snapshots, ...); default in memory. */
  refs?: RefStore;
  /** Blobs gc must keep; default in memory. */
  pins?: PinStore;
  /** Limits for design-document functions (default 5 s and 64 MiB per call). */
  sandbox?: { timeoutMs?: number; memoryBytes?: number };
  /**
   * Databases kept open (CouchDB's max_dbs_open, default 100): past it, the least recently used
   * ones that nobody holds (see `lease`) are closed until asked for again.
   */
  maxOpenDbs?: number;
  /**
   * PBKDF2 iterations for the passwords written to `_users` (CouchDB's `[chttpd_auth] iterations`):
   * default 600,000, CouchDB 3.4's; at most 1,000,000. Fewer make each first login cheaper, and
   * each guess at a stolen document too.
   */
  passwordIterations?: number;
  /** Compaction of written databases whose old revisions take as much room as the rest (default on). */
  autoCompaction?: AutoCompactionOptions | false;
  /**
   * Blob gc by itself (Kubo's `--enable-gc`, over less): among the blobs dropped references named
   * (a compaction, a stemming write, a purge, a deleted database, an unpin, a refused write), those
   * nothing names any more, once an hour old and when no blob was added for five minutes (see
   * auto-blob-gc.ts). A blob stored by hand is never its to delete. Default off here; `openNode`
   * turns it on for a store of its own.
   */
  blobGc?: AutoBlobGcOptions | false;
  /** Called once the node is closed: what its opener held for its lifetime (the data directory's lock). */
  onClosed?: () => Promise<void>;
}

/** CouchDB keeps 500 Erlang files; a LevelDB holds several descriptors, so fewer here. */
export const DEFAULT_MAX_OPEN_DBS = 100;
