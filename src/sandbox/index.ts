// Runs CouchDB design-document JavaScript (map, reduce, filter, validate, search index) in QuickJS
// compiled to WebAssembly: no Node APIs, a time, memory and stack limit per call.

import { RefugeError } from '../errors/index.ts';
// Node: the engine in a worker thread, so a call past its time limit is stopped (see thread-host.ts).
import { openEngine } from '#sandbox/open-engine';
import { QuickJsDesignSandbox } from './design-sandbox.ts';
import type { DesignSandbox, SandboxOptions } from './types.ts';

export type { DesignSandbox, EmittedRow, FnHandle, IndexCall, SandboxOptions } from './types.ts';
export { isOutOfMemory } from './sandbox-errors.ts';

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024;
const DEFAULT_STACK_BYTES = 32 * 1024;
/** The most heap a sandbox may be given. */
export const MAX_SANDBOX_MEMORY_BYTES = 2 ** 31;
// The WASM build's own (shadow) stack is ~5 MiB: past it QuickJS's limit could not protect it.
const MAX_STACK_BYTES = 4 * 1024 * 1024;

/** One sandbox per design document: its own QuickJS instance, runtime and context. */
export async function createSandbox(options: SandboxOptions = {}): Promise<DesignSandbox> {
  const timeoutMs = positive('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS, Infinity);
  const memoryBytes = positive('memoryBytes', options.memoryBytes ?? DEFAULT_MEMORY_BYTES, MAX_SANDBOX_MEMORY_BYTES);
  const stackBytes = positive('stackBytes', options.stackBytes ?? DEFAULT_STACK_BYTES, MAX_STACK_BYTES);
  const engine = await openEngine({
    timeoutMs,
    memoryBytes,
    stackBytes,
    ddocJson: options.ddoc === undefined ? '' : JSON.stringify(options.ddoc),
    // A quarter of the limit: a document then has at least three quarters of it to itself.
    sliceMs: timeoutMs / 4,
    log: options.log,
  });
  return new QuickJsDesignSandbox(engine, timeoutMs, memoryBytes);
}

function positive(name: string, value: number, max: number): number {
  if (!(value > 0 && value <= max)) throw new RefugeError('bad_request', `sandbox option ${name} must be > 0 and <= ${max}`);
  return value;
}
