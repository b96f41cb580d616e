// Saved search indexes: the serialized library index cut into chunks of at most 1 MiB, written with
// a meta record (indexed seq, chunk count) in one atomic batch, so a reader sees a whole snapshot
// or the previous one, never a mix. Chunks live under a generation number bumped on every save.
import type { KvStore } from '../storage/index.ts';

/** Bumped whenever analysis or the stored layout changes: an older snapshot is then rebuilt. */
export const SNAPSHOT_FORMAT = 2;

// Each UTF-16 unit takes at most 3 bytes in UTF-8 (a surrogate pair takes 4 for 2 units), so this
// many units never exceed 1 MiB on disk.
const CHUNK_UNITS = Math.floor((1024 * 1024) / 3);

export interface SnapshotMeta {
  format: number;
  /** The definition the snapshot belongs to. */
  signature: string;
  seq: number;
  gen: number;
  chunks: number;
  length: number;
  /** The database recount the index was last rebuilt after (Indexer.rebuiltFor); absent for none. */
  rebuiltFor?: number;
}

const metaKey = (prefix: string): string => `${prefix}meta`;
const chunkKey = (prefix: string, gen: number, i: number): string =>
  `${prefix}chunk/${String(gen).padStart(10, '0')}/${String(i).padStart(6, '0')}`;

/** Cuts `text` into pieces of at most CHUNK_UNITS, never between the halves of a surrogate pair. */
export function chunkText(text: string, units = CHUNK_UNITS): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    let end = Math.min(at + units, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

export async function readMeta(store: KvStore, prefix: string): Promise<SnapshotMeta | undefined> {
  const raw = await store.get(metaKey(prefix));
  if (raw === undefined) return undefined;
  try {
    const meta = JSON.parse(raw) as SnapshotMeta;
    return Number.isSafeInteger(meta.seq) && Number.isSafeInteger(meta.gen) && Number.isSafeInteger(meta.chunks) ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** The saved text with its meta, or undefined when there is none (or it is unusable: rebuild). */
export async function loadSnapshot(
  store: KvStore,
  prefix: string,
  signature: string,
): Promise<{ meta: SnapshotMeta; text: string } | undefined> {
  const meta = await readMeta(store, prefix);
  if (!meta || meta.format !== SNAPSHOT_FORMAT || meta.signature !== signature) return undefined;
  const keys = Array.from({ length: meta.chunks }, (_, i) => chunkKey(prefix, meta.gen, i));
  const parts = await store.getMany(keys);
  if (parts.some((p) => p === undefined)) return undefined;
  const text = parts.join('');
  return text.length === meta.length ? { meta, text } : undefined;
}

/**
 * Writes `text` as the snapshot at `seq`, replacing `previous` (its chunks are deleted in the same
 * batch). Returns the new meta, to pass as `previous` next time.
 */
export async function writeSnapshot(
  store: KvStore,
  prefix: string,
  snapshot: { signature: string; seq: number; text: string; rebuiltFor?: number },
  previous: SnapshotMeta | undefined,
): Promise<SnapshotMeta> {
  const gen = (previous?.gen ?? 0) + 1;
  const pieces = chunkText(snapshot.text);
  const meta: SnapshotMeta = {
    format: SNAPSHOT_FORMAT,
    signature: snapshot.signature,
    seq: snapshot.seq,
    gen,
    chunks: pieces.length,
    length: snapshot.text.length,
    ...(snapshot.rebuiltFor ? { rebuiltFor: snapshot.rebuiltFor } : {}),
  };
  const ops = new Map<string, string | null>();
  if (previous) for (let i = 0; i < previous.chunks; i++) ops.set(chunkKey(prefix, previous.gen, i), null);
  pieces.forEach((p, i) => ops.set(chunkKey(prefix, gen, i), p));
  ops.set(metaKey(prefix), JSON.stringify(meta));
  await store.batch(ops);
  return meta;
}

/** Removes everything stored under `prefix` (an index whose definition is gone). */
export async function clearSnapshot(store: KvStore, prefix: string): Promise<void> {
  await store.clear({ gte: prefix, lt: prefix + '\uffff' });
}
