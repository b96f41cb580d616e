// The staging area's shape, apart from its filesystem implementation (staging.ts), so portable code
// (the mesh's resumable transfers) can hold one; `#blobs/staging` opens one where a platform has it.

import type { BlobId } from './id.ts';
import type { BlobStore, PutResult } from './types.ts';

export interface StagedInfo {
  key: string;
  /** Bytes staged so far. */
  offset: number;
  /** When it was created (ms since the epoch); it expires `ttlMs` later. */
  created: number;
  expires: number;
  /** What the creator recorded with it (e.g. the size a peer announced). */
  meta: Record<string, unknown>;
}

export interface AppendResult {
  offset: number;
  /** The body broke off (its source went away) before its end: what arrived is kept. */
  aborted: boolean;
  /** Why it broke off. */
  cause?: unknown;
}

export interface BlobStagingOptions {
  /** Where entries are staged; without it a temp dir is used and removed at close. */
  dir?: string;
  /** Entries expire this long after creation (default 24 h). */
  ttlMs?: number;
  /** Largest entry accepted (too_large past it); default unlimited. */
  maxSize?: number;
  /** How the entry is named in errors ("upload", "staged blob"). */
  label?: string;
  /** The clock (tests move it past expiry). */
  now?: () => number;
}

/** Partial blobs kept until complete (BlobStaging on a filesystem). */
export interface StagingArea {
  find(key: string): Promise<StagedInfo | null>;
  list(): Promise<StagedInfo[]>;
  info(key: string): Promise<StagedInfo>;
  create(key: string, meta?: Record<string, unknown>): Promise<StagedInfo>;
  append(key: string, offset: number, body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<AppendResult>;
  finish(key: string, store: BlobStore, options?: { expectedId?: BlobId; discardOnMismatch?: boolean }): Promise<PutResult>;
  discard(key: string): Promise<boolean>;
  close(): Promise<void>;
}
