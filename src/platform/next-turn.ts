// The next turn of the event loop, portably: after the work now running and every microtask it
// queues. Node's setImmediate where there is one, a zero timeout elsewhere (browsers).

const immediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate;

/** Calls `run` on the next turn of the event loop. */
export const onNextTurn: (run: () => void) => void =
  typeof immediate === 'function' ? (run) => void immediate(run) : (run) => void setTimeout(run, 0);
