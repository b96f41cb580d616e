// Node's sandbox thread seen from the main thread: requests go to a worker thread running every
// sandbox's engine, the main thread blocks on Atomics.wait until the answer or the deadline, and a
// thread past its deadline is terminated (V8 stops WASM mid-loop) and replaced by a warm spare.

// QuickJS polls its interrupt handler only every ~10,000 backward branches: a native builtin in a
// loop ("x".repeat(1e5).indexOf, Array sort with a branch-free comparator) overran a 200 ms limit by
// seconds to minutes, with the whole node frozen meanwhile. CouchDB kills its couchjs process.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { RefugeError } from '../errors/index.ts';
import { timeoutError } from './sandbox-errors.ts';
import { SHARED_BYTES, SLOT, type Reply, type Request } from './thread-protocol.ts';

/** A thread's start: importing the engine (under tsx, compiling its TypeScript first). */
const BOOT_MS = 60_000;
/** Trusted work before any QuickJS code runs (creating a WASM instance): no deadline armed yet. */
const SETUP_MS = 30_000;

interface Thread {
  worker: Worker;
  port: MessagePort;
  flags: Int32Array;
  armedAt: BigInt64Array;
  /** Its start, awaited by every sandbox created meanwhile (one set of listeners). */
  boot?: Promise<void>;
  /** The asynchronous call it is running: a synchronous call first waits for it and keeps its answer. */
  pending?: PendingCall;
}

/** An asynchronous call's outcome, filled by whoever sees the thread finish it. */
interface PendingCall {
  timeoutMs: number;
  grace: number;
  /** Until then the call may be setting up (no deadline armed yet). */
  setupEnds: number;
  reply?: Reply;
  error?: unknown;
}

function pendingCall(timeoutMs: number): PendingCall {
  return { timeoutMs, grace: 25 + timeoutMs / 20, setupEnds: Date.now() + SETUP_MS };
}

// Plain JavaScript evaluated in the thread, so the entry's URL may be TypeScript (tsx) or a chunk.
const BOOT = `
const { workerData } = process.getBuiltinModule('node:worker_threads');
const { shared, url, loader } = workerData.refugeSandbox;
// Under tsx on Node 20 its hooks are registered in the main thread only: the thread registers its own.
(loader ? import(loader).then((tsx) => tsx.register()) : Promise.resolve()).then(() => import(url)).catch((err) => {
  const flags = new Int32Array(shared, 0, 2);
  Atomics.store(flags, ${SLOT.ready}, 2);
  Atomics.notify(flags, ${SLOT.ready});
  throw err;
});`;

let entryUrl: string | undefined;
let loaderUrl: string | undefined;
let active: Thread | undefined;
let spare: Thread | undefined;
let generation = 0;
/** Memory sizes of the sandboxes opened so far: a spare thread warms an instance of each. */
const sizes = new Set<number>();

/** Notes a sandbox's memory size (see `sizes`) before its first call. */
export function useMemorySize(memoryBytes: number): void {
  sizes.add(memoryBytes);
}

/** Starts the threads (the one in use and the spare) once per process, and waits until they serve. */
export async function prepareThreads(): Promise<void> {
  if (entryUrl === undefined) {
    const url = (await import('./thread-entry.ts')).THREAD_URL;
    // Unbundled TypeScript runs under tsx (tests, benchmarks): the thread needs its loader too.
    if (url.endsWith('.ts')) loaderUrl = import.meta.resolve('tsx/esm/api');
    entryUrl = url;
  }
  const inUse = active ?? promote();
  spare ??= spawn();
  await Promise.all([booted(inUse), booted(spare)]);
}

/**
 * Sends the request `build` makes for the thread's generation (a new one after a replacement: its
 * engines are gone) and blocks until its reply, or past the armed deadline plus a grace: then the
 * thread is terminated and the call fails as timed out.
 */
export function callThread(build: (generation: number) => Request, timeoutMs: number): Reply {
  let thread = current();
  if (thread.pending !== undefined) {
    // One call at a time per thread: an asynchronous one in progress ends first (or times out).
    settle(thread, thread.pending);
    thread = current();
  }
  send(thread, build);
  const call = pendingCall(timeoutMs);
  settle(thread, call);
  if (call.error !== undefined) throw call.error;
  return call.reply!;
}

let asyncTail: Promise<unknown> = Promise.resolve();

// In every Node this runs on (V8 8.7+), not yet in TypeScript's ES2022 library.
type WaitAsync = (on: Int32Array, index: number, value: number, timeoutMs: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/**
 * callThread without blocking: the main thread serves other work (HTTP requests, reading the next
 * documents) while the sandbox thread runs. Asynchronous calls queue behind one another.
 */
export function callThreadAsync(build: (generation: number) => Request, timeoutMs: number): Promise<Reply> {
  const call = asyncTail.then(() => runAsync(build, timeoutMs));
  asyncTail = call.catch(() => undefined);
  return call;
}

async function runAsync(build: (generation: number) => Request, timeoutMs: number): Promise<Reply> {
  const thread = current();
  const call = pendingCall(timeoutMs);
  send(thread, build);
  thread.pending = call;
  // Nothing else may hold the process open while it waits on the thread (both are unreferenced).
  thread.worker.ref();
  try {
    while (call.reply === undefined && call.error === undefined) {
      if (Atomics.load(thread.flags, SLOT.done) === 1) {
        call.reply = receive(thread);
        break;
      }
      const left = timeLeft(thread, call);
      if (left <= 0) {
        retire(thread);
        call.error = timeoutError(call.timeoutMs);
        break;
      }
      const waited = waitAsync(thread.flags, SLOT.done, 0, left);
      if (waited.async) await waited.value;
    }
  } finally {
    if (thread.pending === call) thread.pending = undefined;
    thread.worker.unref();
  }
  if (call.error !== undefined) throw call.error;
  return call.reply!;
}

/** Blocks until the thread ends `call` (its answer kept for its caller), or ends the thread at its deadline. */
function settle(thread: Thread, call: PendingCall): void {
  if (thread.pending === call) thread.pending = undefined;
  while (Atomics.load(thread.flags, SLOT.done) === 0) {
    const left = timeLeft(thread, call);
    if (left <= 0) {
      retire(thread);
      call.error = timeoutError(call.timeoutMs);
      return;
    }
    Atomics.wait(thread.flags, SLOT.done, 0, left);
  }
  call.reply = receive(thread);
}

function send(thread: Thread, build: (generation: number) => Request): void {
  Atomics.store(thread.flags, SLOT.done, 0);
  Atomics.store(thread.armedAt, 0, 0n);
  thread.worker.postMessage(build(generation));
}

/**
 * Until the armed deadline plus a grace: the interrupt handler ends nearly every overrun itself (the
 * thread survives), and the grace leaves it that chance before the costlier termination. The thread
 * arms deadlines without waking this one: while none is armed, it looks again after the call's own
 * limit, so an overrun is stopped within twice the limit at worst.
 */
function timeLeft(thread: Thread, call: PendingCall): number {
  const armed = Number(Atomics.load(thread.armedAt, 0));
  const now = Date.now();
  if (armed !== 0) return armed + call.grace - now;
  const setupLeft = call.setupEnds - now;
  return setupLeft <= 0 ? setupLeft : Math.min(setupLeft, call.timeoutMs + call.grace);
}

function receive(thread: Thread): Reply {
  const received = receiveMessageOnPort(thread.port);
  if (received === undefined) throw new RefugeError('internal', 'the sandbox thread answered nothing');
  return received.message as Reply;
}

/** Posts a request needing no answer (to the thread in use, if it is still `ofGeneration`). */
export function notifyThread(request: Request, ofGeneration: number): void {
  if (active !== undefined && ofGeneration === generation) active.worker.postMessage(request);
}

/** A new thread in use: a new generation, so every sandbox opens its engine there again. */
function promote(): Thread {
  const thread = spare ?? spawn();
  active = thread;
  spare = spawn();
  generation++;
  return thread;
}

function current(): Thread {
  const thread = active ?? promote();
  if (Atomics.load(thread.flags, SLOT.ready) === 0) Atomics.wait(thread.flags, SLOT.ready, 0, BOOT_MS);
  if (Atomics.load(thread.flags, SLOT.ready) !== 1) {
    retire(thread);
    throw new RefugeError('sandbox_error', 'the sandbox thread did not start; the next call starts another');
  }
  return thread;
}

function spawn(): Thread {
  if (entryUrl === undefined) throw new RefugeError('internal', 'sandbox threads used before prepareThreads()');
  const shared = new SharedArrayBuffer(SHARED_BYTES);
  const { port1, port2 } = new MessageChannel();
  // The parent's flags are kept: under tsx they carry its loader, which the entry needs.
  const worker = new Worker(BOOT, { eval: true, workerData: { refugeSandbox: { shared, port: port2, url: entryUrl, loader: loaderUrl, warm: [...sizes].slice(-4) } }, transferList: [port2] });
  const thread: Thread = { worker, port: port1, flags: new Int32Array(shared, 0, 2), armedAt: new BigInt64Array(shared, 8, 1) };
  // Idle threads must not keep the process alive.
  worker.unref();
  port1.unref();
  const lost = () => {
    if (active === thread) active = undefined;
    if (spare === thread) spare = undefined;
  };
  worker.on('error', lost).on('exit', lost);
  return thread;
}

function retire(thread: Thread): void {
  if (active === thread) active = undefined;
  if (spare === thread) spare = undefined;
  thread.port.close();
  thread.worker.terminate().catch(() => {
    // Already gone.
  });
}

function booted(thread: Thread): Promise<void> {
  if (Atomics.load(thread.flags, SLOT.ready) === 1) return Promise.resolve();
  if (thread.boot !== undefined) return thread.boot;
  // Held referenced while it starts, or a process awaiting its first sandbox could exit meanwhile.
  const { worker } = thread;
  worker.ref();
  return (thread.boot = new Promise<void>((resolve, reject) => {
    const settle = (why?: unknown) => {
      worker.off('message', settle).off('error', settle).off('exit', settle).unref();
      if (why === 'ready') return resolve();
      retire(thread);
      reject(new RefugeError('sandbox_error', `the sandbox thread did not start: ${String(why)}`, { cause: why }));
    };
    worker.on('message', settle).on('error', settle).on('exit', settle);
  }));
}
