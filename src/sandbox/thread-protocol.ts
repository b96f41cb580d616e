// What the main thread and the sandbox thread exchange (thread-host.ts, thread-serve.ts).

import type { ErrorCode } from '../errors/index.ts';
import type { RunOutcome } from './quickjs-engine.ts';

/** Int32 slots of the shared buffer; bytes 8-15 hold the armed deadline (BigInt64, ms since the epoch). */
export const SLOT = { done: 0, ready: 1 } as const;
export const SHARED_BYTES = 16;

export interface OpenEngine {
  settings: { timeoutMs: number; memoryBytes: number; stackBytes: number; ddocJson: string; sliceMs: number };
  logs: boolean;
  /** Functions compiled before (in an earlier thread): recompiled on first use. */
  sources: Array<[number, string]>;
}

/** What a sandbox asks; `leftMs` counts from when the thread takes the request. */
export type Operation =
  | { op: 'open' }
  | { op: 'dispose' }
  | { op: 'compile'; id: number; source: string }
  | { op: 'run'; kind: number; id: number; payload: string; leftMs: number };

/** An operation of sandbox `sid`, with its engine's settings when the thread has not opened it yet. */
export type Request = Operation & { sid: number; open?: OpenEngine };

export interface Reply {
  ok?: true | RunOutcome;
  /** A run's deadline, moved by the time a rebuilt runtime took to recompile. */
  at?: number;
  error?: { code: ErrorCode; reason: string };
  logs?: string[];
}
