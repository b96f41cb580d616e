// The LevelDB engine (classic-level): Refuge's default on disk. Node-only, so it lives outside the
// portable core; a browser build swaps in browser-level (IndexedDB) behind the same interface.

import { readdirSync, statSync } from 'node:fs';
import { readdir, readFile, rm, stat, statfs } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { ClassicLevel } from 'classic-level';
import { RefugeError } from '../errors/index.ts';
import { openFailure } from './open-failure.ts';
import { LevelKvStore, type KvStore, type NativeBatchOps, type OpenStoreOptions, type StorageEngine } from '../storage/index.ts';

/**
 * classic-level frees a chained batch's native copy of its keys and values only when V8 collects the
 * batch object (its close() is a TODO upstream), and V8 does not know that memory exists: with little
 * JS garbage around, written batches pile up for seconds. A node receiving 400k replicated docs over
 * HTTP grew to 625 MB this way (289 MB with timely collections). An uninitialised buffer of the same
 * size, owned by the batch, makes V8 count those bytes as external memory and collect in time; never
 * written to, it costs no resident memory of its own.
 */
const NATIVE_SHADOW = Symbol('nativeShadow');
function shadowNativeBytes(batch: object, bytes: number): void {
  (batch as { [NATIVE_SHADOW]?: Buffer })[NATIVE_SHADOW] = Buffer.allocUnsafeSlow(bytes);
}

/**
 * classic-level's chained batch hands every put to its native binding, after abstract-level has
 * checked the key again and built an operation object for hooks and events Refuge never registers:
 * a sixth of the bytes allocated per written document. nativeOps goes to the binding directly. It
 * depends on classic-level's internals (its binding module and the batch's `context` symbol), so
 * it checks for them and answers undefined (the public API is used) when they are not found.
 */
interface ClassicBinding {
  batch_put(context: unknown, key: string, value: string): void;
  batch_del(context: unknown, key: string): void;
}

const classicBinding = ((): ClassicBinding | undefined => {
  try {
    const b = createRequire(import.meta.url)('classic-level/binding.js') as Partial<ClassicBinding>;
    return typeof b.batch_put === 'function' && typeof b.batch_del === 'function' ? (b as ClassicBinding) : undefined;
  } catch {
    return undefined;
  }
})();

/** Exported for the test that notices when a classic-level upgrade takes this path away. */
export function nativeOps(batch: object): NativeBatchOps | undefined {
  if (!classicBinding) return undefined;
  const symbol = Object.getOwnPropertySymbols(batch).find((s) => s.description === 'context');
  const context = symbol === undefined ? undefined : (batch as Record<symbol, unknown>)[symbol];
  if (context === undefined || context === null) return undefined;
  const binding = classicBinding;
  return {
    put: (key, value) => binding.batch_put(context, key, value),
    del: (key) => binding.batch_del(context, key),
  };
}

/**
 * What LevelDB dropped as damaged while it opened: with its default checks it skips a corrupt block
 * of its write-ahead log (acknowledged writes among them) and only says so in the LOG file it
 * writes anew at each open ("…: dropping N bytes; Corruption: …"). Undefined when it dropped nothing.
 */
async function droppedAtOpen(location: string): Promise<string | undefined> {
  const log = await readFile(`${location}/LOG`, 'utf8').catch(() => '');
  const lines = log.split('\n').filter((l) => /dropping \d+ bytes/.test(l));
  return lines.length === 0 ? undefined : lines.map((l) => l.replace(/^\S+ \S+ /, '').trim()).join('; ');
}

/**
 * The bytes of the files in a LevelDB directory (tables, log, manifest): what it takes on disk.
 * Listed and measured synchronously: the directory is local and its entries cached, so the calls
 * take microseconds, where a thread-pool round trip per file cost 20 times as much CPU. Every
 * `GET /{db}` asks (PouchDB's replications each begin with it): 4.4k such requests a second, against
 * 19k document reads, before this.
 */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of readdirSync(dir)) {
    // A file compaction removes between the listing and its stat is simply not counted.
    const size = statSync(`${dir}/${name}`, { throwIfNoEntry: false });
    if (size?.isFile()) total += size.size;
  }
  return total;
}

export { lockDirectory, notADirectory } from './dir-lock.ts';

export const DEFAULT_CACHE_SIZE = 32 * 1024 * 1024;
export const DEFAULT_WRITE_BUFFER_SIZE = 16 * 1024 * 1024;
export const DEFAULT_BLOCK_SIZE = 2048;

export interface LevelDbTuning {
  /**
   * LevelDB block cache in bytes. Default 32 MiB, not LevelDB's 8: repeated random reads of a
   * 100k-document database (about 40 MB of records) went from about 70k to 140k docs/s with it.
   * It fills only as blocks are read, so an idle or small database costs nothing; a node shares a
   * budget among the databases it may keep open (node/index.ts).
   */
  cacheSize?: number;
  /**
   * Memtable size in bytes before it is flushed to a table file. Default 16 MiB, not LevelDB's 4:
   * path index keys land all over the key range, so every flushed table overlaps all of level 1
   * and each level-0 compaction rewrites it. Fewer, larger flushes cut that work: replicated
   * writes of 100k docs cost LevelDB's compaction thread 23-31 µs/doc at 4 MiB, 13-17 at 8 and
   * ~10 at 16. Memory grows only in a database being written (a memtable and the one being
   * flushed); the docs benchmark's peak RSS stayed at 242 MB.
   */
  writeBufferSize?: number;
  /**
   * Uncompressed bytes per table block. Default 2 KiB, not LevelDB's 4: a read of a document whose
   * block is not cached decompresses the whole block, and most random reads are such reads (a
   * 100k-doc database spans more blocks than 10k reads touch twice). On 100k documents such a read
   * took about 12 µs with 4 KiB blocks, 9 with 2 and 8 with 1 (10k random reads just after the
   * writes), and the same database took 26, 29 and 32 MB on disk once compacted. Applies to tables
   * written from then on.
   */
  blockSize?: number;
}

/** Refuses (without closing anything) when the disk lacks the room a reopen needs: its logs' size, and a margin. */
async function checkRoomToReopen(location: string): Promise<void> {
  let logs = 0;
  for (const name of await readdir(location)) {
    if (name.endsWith('.log')) logs += await stat(`${location}/${name}`).then((s) => s.size, () => 0);
  }
  const need = logs + REOPEN_MARGIN;
  const fs = await statfs(location);
  const free = fs.bavail * fs.bsize;
  if (free < need) throw new RefugeError('unavailable', `still out of space: ${free} bytes free where opening ${location} again needs about ${need}`);
}

const REOPEN_MARGIN = 4 * 1024 * 1024;

function missingStore(location: string, cause?: unknown): RefugeError {
  return new RefugeError('internal', `the storage at ${location} is missing (removed from under the node?): not made again empty`, cause === undefined ? {} : { cause });
}

export function leveldbEngine(tuning: LevelDbTuning = {}): StorageEngine {
  return {
    name: 'leveldb',
    async open(options: OpenStoreOptions): Promise<KvStore> {
      // LevelDB makes the directory before it finds no database there: checked first, so a missing
      // store leaves nothing behind.
      if (options.mustExist && !(await stat(options.location).then(() => true, () => false))) throw missingStore(options.location);
      const db = new ClassicLevel<string, string>(options.location, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
      const openOptions = {
        cacheSize: tuning.cacheSize ?? DEFAULT_CACHE_SIZE,
        writeBufferSize: tuning.writeBufferSize ?? DEFAULT_WRITE_BUFFER_SIZE,
        blockSize: tuning.blockSize ?? DEFAULT_BLOCK_SIZE,
      };
      try {
        await db.open({ createIfMissing: options.mustExist !== true, ...openOptions } as any);
      } catch (err) {
        if (options.mustExist && /does not exist \(create_if_missing is false\)/.test(String((err as { cause?: unknown })?.cause ?? err))) {
          throw missingStore(options.location, err);
        }
        throw openFailure(options.location, err);
      }
      const recoveryLoss = await droppedAtOpen(options.location);
      return new LevelKvStore(
        db as any,
        'leveldb',
        { persistent: true, syncWrites: true, getSync: (db.supports as { getSync?: boolean }).getSync === true, approximateSize: true, diskSize: true, compactRange: true },
        {
          approximateSize: (gte, lt) => db.approximateSize(gte, lt),
          diskSize: () => directoryBytes(options.location),
          compactRange: (gte, lt) => db.compactRange(gte, lt),
          batchWritten: shadowNativeBytes,
          nativeOps,
          // Made by now: opened again, it must be there.
          reopen: async () => {
            // Closed only when it can open again: LevelDB replays its log into a new table as it
            // opens, so a disk still full would leave the store closed, where before reads worked.
            await checkRoomToReopen(options.location);
            await db.close();
            await db.open({ createIfMissing: false, ...openOptions } as any);
            return droppedAtOpen(options.location);
          },
          ...(recoveryLoss !== undefined && { recoveryLoss }),
        },
      );
    },
    async destroy(location: string): Promise<void> {
      await rm(location, { recursive: true, force: true });
    },
  };
}
