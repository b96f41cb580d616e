// The next turn of the event loop, portably: after the work now running and every microtask it
// queues, before timers. Node's setImmediate where there is one, a zero timeout elsewhere.

type Schedule = (run: () => void) => void;

const immediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate;

/** Calls `run` on the next turn of the event loop. */
export const onNextTurn: Schedule = typeof immediate === 'function' ? (run) => void immediate(run) : (run) => void setTimeout(run, 0);
