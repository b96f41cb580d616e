// The path index's storage: posting lists. One key per (path, value, write group) holds the ids
// the group added (`+id`) or removed (`-id`) at that value, so a batch of 1000 documents writes one
// key per distinct value instead of one per entry; small groups flushed together share theirs
// (PostingRun). Readers replay a value's postings in tag order, which is the groups' order.
// Values with many postings are merged into few (posting-merge.ts), as an LSM tree compacts;
// posting-scan.ts reads them back.

import { compareStrings, encodeIndexValue, type IndexValue } from '../query/index.ts';
import { INDEX } from './keys.ts';

export const SEP = '\u0000';
/** Ids per merged posting: a later merge of a busy value rewrites chunks, not one huge value. */
export const MERGED_CHUNK = 2048;
/** A value read with more postings than this is queued for a merge. */
export const MERGE_THRESHOLD = 8;

/** Fixed width keeps a value's postings in group order: 13 hex digits outlast any database. */
export const groupTag = (group: number) => group.toString(16).padStart(13, '0');

/** `i!<path>\0<encoded value>\0`: every posting of one value starts with it, and nothing else does. */
export const valuePrefix = (path: string, encodedValue: string) => INDEX + path + SEP + encodedValue + SEP;

/** The value prefix of a posting key (everything up to its tag). */
export const prefixOf = (key: string) => key.slice(0, key.lastIndexOf(SEP) + 1);

/** The range holding exactly the postings of one value (a prefix from `valuePrefix`). */
export const valueRange = (prefix: string): { gte: string; lt: string } => ({ gte: prefix, lt: prefix.slice(0, -1) + '\u0001' });

/** The ids one group adds or removes at one value, in order. */
interface Pending {
  ids: string[];
  /** Per id, true when removed; null while every id is an addition (the common case). */
  removed: boolean[] | null;
}

/**
 * A value's changes in this group: a lone added id as the id itself (most values of a field that
 * differs per document, such as a text, are held by one document of a group), else a Pending.
 */
type Changes = string | Pending;

/**
 * One write group's index changes as postings being built: path -> value -> ids. Values are kept
 * unencoded and encoded once per group when written, not once per entry; entries of one value keep
 * their order, so a later change of the same entry in the group wins.
 */
export class PostingCollector {
  // Two levels, not one map keyed by the value prefix: that key would be a new string to hash
  // for every entry, which cost as much as the rest of indexing together.
  private readonly byPath = new Map<string, Map<IndexValue, Changes>>();
  /** Entries collected, for the writer's bound on one change set. */
  entries = 0;
  /** The document `add` and `remove` record entries of (see forDoc). */
  private id = '';

  set(path: string, value: IndexValue, id: string, present: boolean): void {
    let values = this.byPath.get(path);
    if (values === undefined) this.byPath.set(path, (values = new Map()));
    const changes = values.get(value);
    if (changes === undefined) values.set(value, present ? id : { ids: [id], removed: [true] });
    else {
      const pending: Pending = typeof changes === 'string' ? { ids: [changes], removed: null } : changes;
      if (pending !== changes) values.set(value, pending);
      if (!present && pending.removed === null) pending.removed = new Array<boolean>(pending.ids.length).fill(false);
      pending.ids.push(id);
      pending.removed?.push(!present);
    }
    this.entries++;
  }

  /**
   * Names the document whose entries `add` and `remove` record next: the two are made once per
   * collector and handed to the index walk as they are, not wrapped in two closures per document.
   */
  forDoc(id: string): void {
    this.id = id;
  }

  readonly add: (path: string, value: IndexValue) => void;
  readonly remove: (path: string, value: IndexValue) => void;

  constructor() {
    // Assigned here, not as arrow-function fields: a loader that keeps function names (tsx) names
    // each field's function at every construction, and a single update builds one collector.
    this.add = (path, value) => this.set(path, value, this.id, true);
    this.remove = (path, value) => this.set(path, value, this.id, false);
  }

  get isEmpty(): boolean {
    return this.entries === 0;
  }

  /** Calls `put` once per value with its posting key (tagged `tag`) and value. */
  forEach(tag: string, put: (key: string, value: string) => void): void {
    for (const [path, values] of this.byPath) {
      const head = INDEX + path + SEP;
      for (const [value, changes] of values) put(head + encodeIndexValue(value) + SEP + tag, postingOf(changes));
    }
  }

  /** Adds this group's postings after those `run` holds, value by value (PostingRun). */
  addTo(run: Map<string, Map<IndexValue, string | string[]>>): void {
    for (const [path, values] of this.byPath) {
      let held = run.get(path);
      if (held === undefined) run.set(path, (held = new Map()));
      for (const [value, changes] of values) {
        const posting = postingOf(changes);
        const before = held.get(value);
        if (before === undefined) held.set(value, posting);
        else if (typeof before === 'string') held.set(value, [before, posting]);
        else before.push(posting);
      }
    }
  }

  /**
   * Throws (through `check`) when a key these postings make would not be well-formed Unicode, without
   * making the keys: a key is a path and an encoded value between fixed ASCII, and the encoding of a
   * string only escapes two control characters, so the key is well-formed when both are.
   */
  checkKeys(check: (text: string) => void): void {
    for (const [path, values] of this.byPath) {
      check(path);
      for (const value of values.keys()) if (typeof value === 'string') check(value);
    }
  }
}

/** A value's changes in one group as its stored posting. */
function postingOf(changes: Changes): string {
  if (typeof changes === 'string') return '+' + changes;
  const { ids, removed } = changes;
  return removed === null ? '+' + ids.join(SEP + '+') : ids.map((id, i) => (removed[i] ? '-' : '+') + id).join(SEP);
}

/**
 * The postings of consecutive small write groups (single puts, small replicated batches), merged
 * per value and written under one tag when their run ends: a run of a thousand single updates
 * writes one key per value they touched, where each update wrote a key of its own per value (four
 * for an update that changes two fields). Entries keep their groups' order, so a value's posting
 * replays them as the groups' own postings in tag order would. Held as path -> value -> postings,
 * as the collector holds its entries: no key is made until the run is written.
 */
export class PostingRun {
  private readonly byPath = new Map<string, Map<IndexValue, string | string[]>>();
  /** Entries held (ids added or removed), for the writer's bound on what waits for a flush. */
  entries = 0;

  add(group: PostingCollector): void {
    group.addTo(this.byPath);
    this.entries += group.entries;
  }

  /** Calls `put` once per value with its posting key (tagged `tag`) and the run's posting of it. */
  forEach(tag: string, put: (key: string, value: string) => void): void {
    for (const [path, values] of this.byPath) {
      const head = INDEX + path + SEP;
      for (const [value, held] of values) put(head + encodeIndexValue(value) + SEP + tag, typeof held === 'string' ? held : held.join(SEP));
    }
  }
}

/** A posting's ids with their sign, in stored order. */
export function applyPosting(raw: string, into: Map<string, boolean>): void {
  for (const entry of raw.split(SEP)) into.set(entry.slice(1), entry.charCodeAt(0) === 43 /* + */);
}

/**
 * The ids present at one value, in id order (UTF-8 byte order, as keys compare), from its postings
 * in ascending group order.
 */
export function resolvePostings(postings: readonly string[]): string[] {
  if (postings.length === 1 && !postings[0]!.includes(SEP + '-') && postings[0]!.charCodeAt(0) === 43) {
    // The common case (one posting, additions only): no map needed. Such a posting names each id
    // once (an entry is only added when absent), but a repeat would be dropped below anyway.
    const ids = postings[0]!.split(SEP).map((e) => e.slice(1));
    ids.sort(compareStrings);
    let n = 0;
    for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[n - 1]) ids[n++] = ids[i]!;
    ids.length = n;
    return ids;
  }
  const state = new Map<string, boolean>();
  for (const p of postings) applyPosting(p, state);
  const ids: string[] = [];
  for (const [id, present] of state) if (present) ids.push(id);
  return ids.sort(compareStrings);
}

const TAG_LENGTH = 13;
/** Merged chunks carry `<tag>.<n>`; combined postings `<tag>+`; a group's own posting just `<tag>`. */
export const isChunk = (key: string, prefixLength: number) => key.charCodeAt(prefixLength + TAG_LENGTH) === 46; /* . */

export function countEntries(value: string): number {
  let n = 1;
  for (let i = value.indexOf(SEP); i >= 0; i = value.indexOf(SEP, i + 1)) n++;
  return n;
}

const hasRemovals = (value: string) => value.charCodeAt(0) === 45 /* - */ || value.includes(SEP + '-');

export interface PostingMerge {
  del: string[];
  put: Array<[string, string]>;
}

/**
 * How to merge one value's postings (`entries`: keys and values in ascending key order), or
 * undefined when there is nothing to gain. A full merge applies everything and writes the ids in
 * sorted chunks of MERGED_CHUNK. A light one (`full` false, on a busy value) only combines the
 * postings written since the last full merge into one, removals kept, so the big chunks are not
 * rewritten for a few changes; it turns full once those changes are worth a rewrite.
 */
export function planMerge(prefix: string, entries: ReadonlyArray<[string, string]>, full: boolean): PostingMerge | undefined {
  if (entries.length === 0) return undefined;
  const tagOf = (key: string) => key.slice(prefix.length, prefix.length + TAG_LENGTH);
  const loose = entries.filter(([k]) => !isChunk(k, prefix.length));
  const looseCount = loose.reduce((n, [, v]) => n + countEntries(v), 0);
  const total = entries.reduce((n, [, v]) => n + countEntries(v), 0);
  if (full || looseCount >= MERGED_CHUNK || total <= MERGED_CHUNK) {
    if (entries.length === 1 && !hasRemovals(entries[0]![1])) return undefined;
    if (loose.length === 0 && !entries.some(([, v]) => hasRemovals(v))) return undefined;
    const ids = resolvePostings(entries.map(([, v]) => v));
    // Merged chunks sort after every posting they replace and before any later group's.
    const tag = tagOf(entries[entries.length - 1]![0]);
    const put: Array<[string, string]> = [];
    for (let i = 0, c = 0; i < ids.length; i += MERGED_CHUNK, c++) {
      put.push([prefix + tag + '.' + c.toString(16).padStart(6, '0'), '+' + ids.slice(i, i + MERGED_CHUNK).join(SEP + '+')]);
    }
    const written = new Set(put.map(([k]) => k));
    return { del: entries.map(([k]) => k).filter((k) => !written.has(k)), put };
  }
  if (loose.length <= 1) return undefined;
  // Loose postings all come after the chunks (a full merge folded in every earlier one).
  const state = new Map<string, boolean>();
  for (const [, v] of loose) applyPosting(v, state);
  let value = '';
  for (const [id, present] of state) value += (value === '' ? '' : SEP) + (present ? '+' : '-') + id;
  const key = prefix + tagOf(loose[loose.length - 1]![0]) + '+';
  return { del: loose.map(([k]) => k).filter((k) => k !== key), put: [[key, value]] };
}

/**
 * Every entry the index holds, as `<path>\0<encoded value>\0<docid>` strings in index order,
 * from raw `i!` keys and values in key order (tests and tools that check the index whole).
 */
export function logicalEntries(rows: ReadonlyArray<[string, string]>): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < rows.length) {
    const prefix = prefixOf(rows[i]![0]);
    const postings: string[] = [];
    for (; i < rows.length && prefixOf(rows[i]![0]) === prefix; i++) postings.push(rows[i]![1]);
    for (const id of resolvePostings(postings)) out.push(prefix.slice(INDEX.length) + id);
  }
  return out;
}
