// Where refs live: one small interface (current value, history, names) with a memory implementation;
// every put is verified and must succeed the stored value. The filesystem one is in fs-store.ts.

import { checkRefName, checkSuccessor, signRef, verifyRef, type SignedRef } from './ref.ts';
import { RefugeError } from '../errors/index.ts';
import type { NodeKey } from './keys.ts';

/** Unsigned local notes kept with a value (e.g. a snapshot's source folder and sizes). */
export type RefMeta = Record<string, string | number | boolean>;

export interface RefEntry {
  ref: SignedRef;
  meta?: RefMeta;
}

export interface RefStore {
  /** The current (highest seq) value, verified; null when the name has none. */
  get(name: string): Promise<SignedRef | null>;
  /** Stores a new value: `forbidden` when forged or another owner's, `conflict` when not newer. */
  put(ref: SignedRef, meta?: RefMeta): Promise<void>;
  /** Every value kept for the name, oldest (lowest seq) first. */
  history(name: string): Promise<RefEntry[]>;
  /** Names with at least one value, sorted. */
  list(): Promise<string[]>;
}

export class MemoryRefStore implements RefStore {
  readonly #refs = new Map<string, RefEntry[]>();

  async get(name: string): Promise<SignedRef | null> {
    return this.#refs.get(checkRefName(name))?.at(-1)?.ref ?? null;
  }

  async put(ref: SignedRef, meta?: RefMeta): Promise<void> {
    // Check and append with no await in between: concurrent puts cannot both pass.
    const current = this.#refs.get(checkRefName(ref?.name))?.at(-1)?.ref ?? null;
    const checked = checkSuccessor(current, ref);
    const list = this.#refs.get(checked.name) ?? [];
    list.push(meta ? { ref: checked, meta: { ...meta } } : { ref: checked });
    this.#refs.set(checked.name, list);
  }

  async history(name: string): Promise<RefEntry[]> {
    return (this.#refs.get(checkRefName(name)) ?? []).map((e) => ({ ...e }));
  }

  async list(): Promise<string[]> {
    return [...this.#refs.keys()].sort();
  }
}

/**
 * Points `name` at `root` with the next seq, signed by `key`; retries when a concurrent writer of
 * the same key took the seq first. Returns the stored ref.
 */
export async function updateRef(refs: RefStore, key: NodeKey, name: string, root: string, meta?: RefMeta): Promise<SignedRef> {
  for (let attempt = 0; ; attempt++) {
    const current = await refs.get(name);
    const ref = signRef(key, {
      name,
      root,
      seq: (current?.seq ?? 0) + 1,
      // Never earlier than the value it replaces, even with a clock that went back.
      timestamp: Math.max(Date.now(), current?.timestamp ?? 0),
    });
    try {
      await refs.put(ref, meta);
      return ref;
    } catch (err) {
      if (!(err instanceof RefugeError && err.code === 'conflict') || attempt >= 4) throw err;
    }
  }
}

/** Resolves `name` or `name@seq` to a stored value (`not_found` when absent). */
export async function resolveRef(refs: RefStore, spec: string): Promise<RefEntry> {
  const at = spec.lastIndexOf('@');
  const name = at < 0 ? spec : spec.slice(0, at);
  const seqText = at < 0 ? undefined : spec.slice(at + 1);
  if (seqText !== undefined && !/^[1-9][0-9]{0,15}$/.test(seqText)) {
    throw new RefugeError('bad_request', `invalid ref version ${JSON.stringify(spec)}: expected NAME or NAME@SEQ`);
  }
  const history = await refs.history(name);
  const entry = seqText === undefined ? history.at(-1) : history.find((e) => e.ref.seq === Number(seqText));
  if (!entry) throw new RefugeError('not_found', seqText === undefined ? `ref ${name} not found` : `ref ${name} has no value with seq ${seqText}`);
  verifyRef(entry.ref);
  return entry;
}
