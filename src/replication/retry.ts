// Which failures are worth retrying, the exponential back-off between attempts, and the loop that
// retries a call. Portable: only setTimeout and AbortSignal, so a browser tab replicates over a
// flaky link the same way.

import { RefugeError, isRefugeError, toRefugeError } from '../errors/index.ts';
import { sleep } from '../platform/sleep.ts';

export interface RetryOptions {
  /** First wait after a retryable failure (default 500 ms); doubles on each further failure. */
  initialDelayMs?: number;
  /** Ceiling of the wait (default 30 s). */
  maxDelayMs?: number;
  /** Attempts of one call before the replication fails (default: unlimited when continuous, else 10). */
  maxAttempts?: number;
}

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
}

export function retryPolicy(options: RetryOptions | false | undefined, continuous: boolean): RetryPolicy {
  if (options === false) return { initialDelayMs: 0, maxDelayMs: 0, maxAttempts: 1 };
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new RefugeError('bad_request', 'retry must be an object of settings, or false');
  const policy = {
    initialDelayMs: options?.initialDelayMs ?? 500,
    maxDelayMs: options?.maxDelayMs ?? 30_000,
    maxAttempts: options?.maxAttempts ?? (continuous ? Infinity : 10),
  };
  const ok = (n: number) => typeof n === 'number' && n >= 0 && !Number.isNaN(n);
  if (!ok(policy.initialDelayMs) || !ok(policy.maxDelayMs) || !(policy.maxAttempts >= 1)) {
    throw new RefugeError('bad_request', 'retry: delays must be non-negative numbers and maxAttempts at least 1');
  }
  return policy;
}

/**
 * Network failures and 5xx answers (code `unavailable`), or anything flagged `retryable`, are
 * transient; every other error (bad request, forbidden, missing database) would fail again.
 */
export function isRetryable(err: unknown): boolean {
  if (isRefugeError(err, 'unavailable')) return true;
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
}

/** The wait before attempt `failures + 1`: doubling, capped, with jitter so peers do not stampede. */
export function backoffDelay(failures: number, policy: RetryPolicy): number {
  const full = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, failures - 1));
  return full / 2 + Math.random() * (full / 2);
}

/** Told of a call's retries (retrying). */
export interface RetryHooks {
  /** A transient failure: the call is tried again after `delayMs`. */
  retry(error: RefugeError, attempt: number, delayMs: number): void;
  /** The call answered after failing. */
  recovered(): void;
}

/**
 * Runs one peer call, backing off and retrying while the failure is transient. `signal` is read at
 * each step, not once: a replication's restart gives it a new one.
 */
export async function retrying<T>(fn: () => Promise<T>, policy: RetryPolicy, signal: () => AbortSignal, hooks: RetryHooks): Promise<T> {
  for (let failures = 0; ; ) {
    if (signal().aborted) throw signal().reason;
    try {
      const value = await fn();
      if (failures > 0) hooks.recovered();
      return value;
    } catch (err) {
      if (signal().aborted) throw signal().reason;
      failures++;
      if (!isRetryable(err) || failures >= policy.maxAttempts) throw err;
      const error = toRefugeError(err);
      const delayMs = backoffDelay(failures, policy);
      hooks.retry(error, failures, delayMs);
      await sleep(delayMs, signal());
    }
  }
}

/** A request's timer (timeoutSignal). */
export interface TimeoutSignal {
  signal: AbortSignal;
  /** Releases the timer for good. */
  clear: () => void;
  /** Restarts the wait (for `ms` from now on when given), a paused one too. */
  touch: (ms?: number) => void;
  /** Stops counting until the next touch: the caller is busy, not waiting on the peer. */
  pause: () => void;
}

/**
 * The longest wait a timer takes (2^31 - 1 ms, 24.8 days): past it, Node fires at once (after 1 ms)
 * with a warning, and a peer given a larger timeout would time out every request.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * An AbortSignal that fires when `parent` does or after `ms` without news; `touch` restarts the
 * wait (a sign of life, such as a chunk of the answer), `clear` releases its timer.
 */
export function timeoutSignal(parent: AbortSignal | undefined, ms: number): TimeoutSignal {
  const controller = new AbortController();
  const expire = () => controller.abort(new RefugeError('unavailable', `no answer within ${ms} ms`));
  let timer = Number.isFinite(ms) ? setTimeout(expire, Math.min(ms, MAX_TIMER_MS)) : undefined;
  let paused = false;
  const clearTimer = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    paused = false;
  };
  const touch = (next?: number) => {
    if ((timer === undefined && !paused) || controller.signal.aborted) return;
    if (next !== undefined) ms = next;
    if (timer !== undefined) clearTimeout(timer);
    paused = false;
    timer = setTimeout(expire, Math.min(ms, MAX_TIMER_MS));
  };
  const pause = () => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    paused = true;
  };
  if (!parent) return { signal: controller.signal, clear: clearTimer, touch, pause };
  // AbortSignal.any links without an abort listener on the parent: a replication's one signal is
  // shared by many concurrent requests, and per-request listeners would pile up on it.
  if (typeof AbortSignal.any === 'function') return { signal: AbortSignal.any([parent, controller.signal]), clear: clearTimer, touch, pause };
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) controller.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    clear: () => {
      clearTimer();
      parent.removeEventListener('abort', onAbort);
    },
    touch,
    pause,
  };
}
