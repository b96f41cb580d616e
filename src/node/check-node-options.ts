// The node's options checked before anything is opened: `openNode` asks before it locks or makes
// anything in the data directory, so a refused start leaves nothing behind, and a bad interval
// never becomes a timer firing every millisecond.

import { RefugeError } from '../errors/index.ts';
import { MAX_SANDBOX_MEMORY_BYTES } from '../sandbox/index.ts';
import { MAX_PBKDF2_ITERATIONS } from './user-passwords.ts';

const bad = (reason: string) => new RefugeError('bad_request', reason);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Each named member, when given, a finite number above 0 (`zeroOk`: at least 0). */
function checkDurations(owner: string, value: Record<string, unknown>, names: readonly string[], zeroOk: readonly string[] = []): void {
  for (const name of names) {
    const v = value[name];
    if (v === undefined) continue;
    const least = zeroOk.includes(name) ? 0 : Number.MIN_VALUE;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < least) throw bad(`${owner}.${name} must be a number ${least === 0 ? '>= 0' : '> 0'}`);
  }
}

export interface CheckedNodeOptions {
  maxOpenDbs?: unknown;
  passwordIterations?: unknown;
  sandbox?: unknown;
  autoCompaction?: unknown;
  blobGc?: unknown;
  onDamage?: unknown;
}

export function checkNodeOptions(options: CheckedNodeOptions): void {
  const { maxOpenDbs, passwordIterations, sandbox, autoCompaction, blobGc, onDamage } = options;
  if (maxOpenDbs !== undefined && (!Number.isSafeInteger(maxOpenDbs) || (maxOpenDbs as number) < 1)) throw bad('maxOpenDbs must be a positive integer');
  if (passwordIterations !== undefined && (!Number.isSafeInteger(passwordIterations) || (passwordIterations as number) < 1 || (passwordIterations as number) > MAX_PBKDF2_ITERATIONS)) {
    throw bad(`passwordIterations must be a whole number from 1 to ${MAX_PBKDF2_ITERATIONS}`);
  }
  if (sandbox !== undefined) {
    if (!isObject(sandbox)) throw bad('sandbox must be an object of limits');
    checkDurations('sandbox', sandbox, ['timeoutMs', 'memoryBytes']);
    if (typeof sandbox.memoryBytes === 'number' && sandbox.memoryBytes > MAX_SANDBOX_MEMORY_BYTES) throw bad(`sandbox.memoryBytes must be at most ${MAX_SANDBOX_MEMORY_BYTES}`);
  }
  if (autoCompaction !== undefined && autoCompaction !== false) {
    if (!isObject(autoCompaction)) throw bad('autoCompaction must be false or an object of settings');
    checkDurations('autoCompaction', autoCompaction, ['intervalMs', 'minBytes'], ['minBytes']);
  }
  if (blobGc !== undefined && typeof blobGc !== 'boolean') {
    if (!isObject(blobGc)) throw bad('blobGc must be a boolean or an object of settings');
    checkDurations('blobGc', blobGc, ['intervalMs', 'retryMs', 'graceMs', 'quietMs'], ['graceMs', 'quietMs']);
  }
  if (onDamage !== undefined && typeof onDamage !== 'function') throw bad('onDamage must be a function');
}
