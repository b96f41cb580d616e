// A wait that an AbortSignal cuts short: the one timer behind retry back-offs and polling loops.

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
