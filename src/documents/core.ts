// The shared state of one open database that its read and write modules work on.

import type { KvStore } from '../storage/index.ts';
import type { Durability, JsonObject } from './types.ts';

export interface DbState {
  seq: number;
  docCount: number;
  delCount: number;
  revsLimit: number;
  autoIndex: boolean;
}

export interface DbCore {
  readonly name: string;
  readonly store: KvStore;
  readonly durability: Durability;
  /** Committed counters; only the writer changes them, after a batch is on disk. */
  state: DbState;
  /** Calls `emit` with each path index entry (path, encoded value) of a winning body. */
  indexEntries(body: JsonObject, emit: (path: string, encodedValue: string) => void): void;
}

export function encodeState(s: DbState): string {
  return JSON.stringify(s);
}

export function decodeState(v: string | undefined, defaults: DbState): DbState {
  if (v === undefined) return { ...defaults };
  return { ...defaults, ...JSON.parse(v) };
}
