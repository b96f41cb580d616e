// Garbage collection of a blob store: mark every blob reachable from refs (current and historical
// values), pins and extra roots (attachments), then delete the rest — except blobs younger than the
// grace period (uploads and snapshots in progress). A reachable blob is never deleted.

import type { BlobId } from '../blobs/id.ts';
import type { BlobStore } from '../blobs/types.ts';
import { RefugeError } from '../errors/index.ts';
import { reachableBlobs } from '../files/reachable.ts';
import type { RefStore } from '../refs/store.ts';
import type { BlobAgeOf } from './ages.ts';
import type { PinStore } from './pins.ts';

export const DEFAULT_GRACE_MS = 10 * 60 * 1000;

export interface GcOptions {
  refs?: RefStore;
  pins?: PinStore;
  /** More roots to keep (document attachments, ...): blob ids or CIDs. */
  extraRoots?: () => AsyncIterable<BlobId | string>;
  /** Blobs stored less than this long ago are kept; default 10 minutes. */
  graceMs?: number;
  /** When a blob was stored (default: now, i.e. keep every unreachable blob unless graceMs is 0). */
  ageOf?: BlobAgeOf;
  /**
   * Sweep even when some reachable blobs are missing (a damaged tree: gc cannot see what a missing
   * node pointed at, so by default it deletes nothing and fails with `conflict`).
   */
  allowMissing?: boolean;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  /**
   * Deletes only among these (blob ids or tree roots, their trees included: what dropped
   * references named), not in the whole store: every other blob stays, whether or not anything
   * reaches it. The node's own gc uses it, so that blobs stored by hand are never its to delete.
   */
  only?: Iterable<string>;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'mark' | 'sweep'; scanned: number; deleted: number }) => void;
}

export interface GcReport {
  /** Roots marked from (ref values, pins, extra roots). */
  roots: number;
  /** Blobs found reachable (present or not). */
  reachable: number;
  /** Reachable blobs the store lacks (damaged trees; nothing gc can do). */
  missing: BlobId[];
  /** Blobs enumerated in the store. */
  scanned: number;
  /** Unreachable blobs deleted (or, with dryRun, that would be). */
  deleted: BlobId[];
  deletedBytes: number;
  /** Unreachable blobs kept because they are younger than the grace period. */
  young: number;
  dryRun: boolean;
}

/** Every root gc keeps: each ref's every value, each pin, each extra root. */
export async function gcRoots(options: Pick<GcOptions, 'refs' | 'pins' | 'extraRoots'>): Promise<string[]> {
  const roots = new Set<string>();
  if (options.refs) {
    for (const name of await options.refs.list()) {
      for (const entry of await options.refs.history(name)) roots.add(entry.ref.root);
    }
  }
  if (options.pins) for (const pin of await options.pins.list()) roots.add(pin);
  if (options.extraRoots) for await (const root of options.extraRoots()) roots.add(root);
  return [...roots];
}

/**
 * What keeps `id` from being deleted by hand, as IPFS refuses to remove a pinned block: a pin, a
 * ref (any value it had) or an attachment reaching it, directly or inside a file's tree; undefined
 * when nothing does. Missing blobs of a damaged tree are passed over: what they held cannot be known.
 */
export async function keptBy(
  store: BlobStore,
  id: BlobId,
  options: Pick<GcOptions, 'refs' | 'pins' | 'extraRoots' | 'signal'>,
): Promise<'pin' | 'ref' | 'attachment' | undefined> {
  const walk = options.signal ? { signal: options.signal } : {};
  const kinds = [
    ['pin', { pins: options.pins }],
    ['ref', { refs: options.refs }],
    ['attachment', { extraRoots: options.extraRoots }],
  ] as const;
  for (const [kind, source] of kinds) {
    const roots = await gcRoots(source);
    if (roots.length > 0 && (await reachableBlobs(store, roots, walk)).reachable.has(id)) return kind;
  }
  return undefined;
}

export async function collectGarbage(store: BlobStore, options: GcOptions = {}): Promise<GcReport> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new RefugeError('bad_request', 'the gc grace period is a non-negative number of ms');
  const { signal } = options;
  // The sweep's cut-off is taken before marking: anything stored after it is young by definition.
  const startedAt = Date.now();
  const roots = await gcRoots(options);
  const { reachable, missing } = await reachableBlobs(store, roots, signal ? { signal } : {});
  if (missing.length > 0 && !options.allowMissing) {
    throw new RefugeError('conflict', `gc stopped before deleting anything: ${missing.length} reachable blob(s) are missing (first ${missing[0]}); what they point at cannot be known (force to sweep anyway)`);
  }
  options.onProgress?.({ phase: 'mark', scanned: 0, deleted: 0 });
  const ageOf = options.ageOf ?? (async () => Date.now());
  const report: GcReport = { roots: roots.length, reachable: reachable.size, missing, scanned: 0, deleted: [], deletedBytes: 0, young: 0, dryRun: options.dryRun === true };
  const candidates: BlobId[] = [];
  if (options.only !== undefined) {
    // The blobs under the given roots, as far as they are still stored (one gone is passed over).
    const under = await reachableBlobs(store, [...new Set(options.only)], signal ? { signal } : {});
    for (const id of under.reachable) {
      report.scanned++;
      if (!reachable.has(id)) candidates.push(id);
    }
  } else {
    let after: BlobId | undefined;
    do {
      signal?.throwIfAborted();
      const page = await store.list({ ...(after !== undefined && { after }), limit: 1000 });
      report.scanned += page.ids.length;
      for (const id of page.ids) if (!reachable.has(id)) candidates.push(id);
      after = page.next;
    } while (after !== undefined);
  }
  for (const id of candidates) {
    signal?.throwIfAborted();
    if (graceMs > 0 && (await ageOf(id)) > startedAt - graceMs) {
      report.young++;
      continue;
    }
    const [stat] = await store.stat([id]);
    if (!stat) continue;
    if (!report.dryRun && !(await store.delete(id))) continue;
    report.deleted.push(id);
    report.deletedBytes += stat.size;
    options.onProgress?.({ phase: 'sweep', scanned: report.scanned, deleted: report.deleted.length });
  }
  return report;
}
