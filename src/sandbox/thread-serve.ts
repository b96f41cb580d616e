// The sandbox thread's side (Node only): runs the QuickJS engines of every sandbox of the process,
// one request at a time, answering on a port the blocked main thread reads (see thread-host.ts).

import { type MessagePort } from 'node:worker_threads';
import { RefugeError } from '../errors/index.ts';
import { RunKind } from './harness-source.ts';
import { acquireModule } from './module-pool.ts';
import { QuickJsEngine, type EngineSettings } from './quickjs-engine.ts';
import { SLOT, type Reply, type Request } from './thread-protocol.ts';

export async function serve(requests: MessagePort, replies: MessagePort, shared: SharedArrayBuffer, warm: readonly number[]): Promise<void> {
  // A new thread's first sandbox took 0.3-1 s to start (its WASM code is compiled lazily per
  // thread): a spare does that before it is needed, for each memory size in use.
  for (const memoryBytes of warm) await warmUp(memoryBytes);
  const flags = new Int32Array(shared, 0, 2);
  const armedAt = new BigInt64Array(shared, 8, 1);
  const engines = new Map<number, QuickJsEngine>();
  // Log lines of the call in progress: the main thread hands them to the sandbox's log after it.
  let logs: string[] = [];

  const settingsOf = (open: NonNullable<Request['open']>): EngineSettings => ({
    ...open.settings,
    ...(open.logs && { log: (line: string) => logs.push(line) }),
    // The main thread's watchdog waits until this deadline (plus a grace), then ends this thread.
    // It is not woken to learn it (a wake each call cost about as much as the call): it looks.
    armed: (at) => {
      Atomics.store(armedAt, 0, BigInt(Math.ceil(Math.min(at, Number.MAX_SAFE_INTEGER))));
    },
  });

  async function handle(req: Request): Promise<Reply | undefined> {
    if (req.open !== undefined) {
      engines.get(req.sid)?.dispose();
      const settings = settingsOf(req.open);
      const engine = new QuickJsEngine(await acquireModule(settings.memoryBytes), settings);
      for (const [id, source] of req.open.sources) engine.adopt(id, source);
      engines.set(req.sid, engine);
    }
    const engine = engines.get(req.sid);
    if (req.op === 'dispose') {
      engine?.dispose();
      engines.delete(req.sid);
      return undefined;
    }
    if (engine === undefined) throw new RefugeError('internal', `unknown sandbox ${req.sid} in the sandbox thread`);
    if (req.op === 'compile') {
      engine.compile(req.id, req.source);
      return { ok: true };
    }
    if (req.op === 'run') {
      // From now: opening the engine (a new WASM instance) is not charged, as a rebuild is not.
      const deadline = { at: Date.now() + req.leftMs };
      const outcome = engine.run(req.kind as RunKind, req.id, req.payload, deadline);
      return { ok: outcome, at: deadline.at };
    }
    return { ok: true };
  }

  // Requests are handled in order: opening an engine awaits its WASM instance.
  let queue = Promise.resolve();
  requests.on('message', (req: Request) => {
    queue = queue.then(async () => {
      logs = [];
      let reply: Reply | undefined;
      try {
        reply = await handle(req);
      } catch (err) {
        reply = { error: err instanceof RefugeError ? { code: err.code, reason: err.reason } : { code: 'internal', reason: String(err) } };
      }
      if (req.op === 'dispose') return;
      replies.postMessage({ ...reply, logs });
      Atomics.store(flags, SLOT.done, 1);
      Atomics.notify(flags, SLOT.done);
    });
  });
  Atomics.store(flags, SLOT.ready, 1);
  Atomics.notify(flags, SLOT.ready);
  // For a main thread awaiting the start (prepareThreads) rather than blocked on the flag.
  requests.postMessage('ready');
}

async function warmUp(memoryBytes: number): Promise<void> {
  const settings = { timeoutMs: 5000, memoryBytes, stackBytes: 32 * 1024, ddocJson: '', sliceMs: 1250 };
  const engine = new QuickJsEngine(await acquireModule(memoryBytes), settings);
  try {
    engine.compile(1, 'function (doc) { emit(doc._id, [doc].map(function (d) { return d.n; })); }');
    engine.run(RunKind.map, 1, '[{"_id":"a","n":1}]', { at: Date.now() + 5000 });
  } catch {
    // Only a warm-up: the sandbox that needs this size reports its own failure.
  } finally {
    engine.dispose();
  }
}
