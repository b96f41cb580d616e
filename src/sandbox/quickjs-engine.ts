// One QuickJS runtime+context running the harness for one design document: deadlines, memory and
// stack limits, and replacing the runtime (or the whole WASM instance) when a call broke it.

// After a timeout or out-of-memory the old context may be half-way through anything, so it is
// disposed and rebuilt lazily; compiled functions are recompiled from their sources on first use,
// so FnHandles stay valid. A host-level exception (V8 stack overflow inside WASM, a WASM trap)
// means the instance itself is suspect: it is dropped without touching it again.
import type { QuickJSHandle, QuickJSWASMModule } from 'quickjs-emscripten';
import { RefugeError } from '../errors/index.ts';
import type { RunKind } from './harness-source.ts';
import { takeSpareModule } from './module-pool.ts';
import { compilationError, timeoutError, type ThrownDescriptor } from './sandbox-errors.ts';
import { HarnessStartError, startHarness, type HarnessSettings, type LiveHarness } from './start-harness.ts';

export interface EngineSettings extends HarnessSettings {
  timeoutMs: number;
  /** Told each deadline QuickJS code starts running under (a watchdog outside may enforce it). */
  armed?: (at: number) => void;
}

/** When a call must end (ms since the epoch); shared by the pieces of a split batch. */
export interface Deadline {
  at: number;
}

/** The harness's JSON answer, or a failure of the call as a whole (nothing per doc to report). */
export type RunOutcome = { json: string } | { failed: ThrownDescriptor };

type Live = LiveHarness;

/** What the design sandbox drives: this engine in-thread, or a proxy to it in a worker thread. */
export interface SandboxEngine {
  compile(id: number, source: string): void;
  /** compile() without blocking the calling thread, where the engine runs in another one. */
  compileAsync?(id: number, source: string): Promise<void>;
  run(kind: RunKind, id: number, payload: string, deadline: Deadline): RunOutcome;
  /** run() without blocking the calling thread, where the engine runs in another one. */
  runAsync?(kind: RunKind, id: number, payload: string, deadline: Deadline): Promise<RunOutcome>;
  dispose(): void;
}

export class QuickJsEngine implements SandboxEngine {
  private module: QuickJSWASMModule | undefined;
  private live: Live | undefined;
  private readonly sources = new Map<number, string>();
  private deadline = Infinity;
  private busy = false;
  private disposed = false;

  constructor(
    module: QuickJSWASMModule,
    private readonly settings: EngineSettings,
  ) {
    this.module = module;
  }

  /** Compiles `source` under `id`; throws RefugeError('compilation_error') when it is no function. */
  compile(id: number, source: string): void {
    this.enter(() => {
      const live = this.ensureLive();
      this.compileIn(live, id, source, Date.now() + this.settings.timeoutMs);
      this.sources.set(id, source);
    });
  }

  /** Knows `source` under `id` without compiling it yet (an engine rebuilt in a new thread). */
  adopt(id: number, source: string): void {
    this.sources.set(id, source);
  }

  /** Runs a compiled function; rebuilding the runtime and recompiling is not charged to `deadline`. */
  run(kind: RunKind, id: number, payload: string, deadline: Deadline): RunOutcome {
    return this.enter(() => {
      const started = Date.now();
      const live = this.ensureLive();
      if (!live.compiled.has(id)) {
        const source = this.sources.get(id);
        if (source === undefined) throw new RefugeError('internal', `unknown sandbox function handle ${id}`);
        this.compileIn(live, id, source, Date.now() + this.settings.timeoutMs);
      }
      deadline.at += Date.now() - started;
      const out = this.invoke(live, live.run, [kind, id, payload], deadline.at);
      if (typeof out !== 'string') return { failed: out };
      if (out.startsWith('{"batchError":')) return { failed: (JSON.parse(out) as { batchError: ThrownDescriptor }).batchError };
      return { json: out };
    });
  }

  dispose(): void {
    this.disposed = true;
    this.reset();
    this.module = undefined;
  }

  private compileIn(live: Live, id: number, source: string, deadline: number): void {
    const out = this.invoke(live, live.compile, [id, source], deadline);
    if (typeof out !== 'string') throw compilationError(source, out);
    const answer = JSON.parse(out) as { ok?: true; notFunction?: true; error?: ThrownDescriptor };
    if (answer.ok !== true) throw compilationError(source, answer.error);
    live.compiled.add(id);
  }

  private enter<T>(body: () => T): T {
    if (this.disposed) throw new RefugeError('closed', 'the sandbox was disposed');
    if (this.busy) throw new RefugeError('sandbox_error', 'the sandbox is already running a function (re-entrant call)');
    this.busy = true;
    try {
      return body();
    } finally {
      this.busy = false;
      this.deadline = Infinity;
    }
  }

  /** Calls a harness function; a string is its answer ('!' prefix stripped), a descriptor an escaped exception. */
  private invoke(live: Live, fn: QuickJSHandle, args: Array<string | number>, deadline: number): string | ThrownDescriptor {
    const { context, runtime } = live;
    let answer: string;
    let escaped: QuickJSHandle | undefined;
    let ranJobs = false;
    try {
      const handles = args.map((a) => (typeof a === 'string' ? context.newString(a) : context.newNumber(a)));
      this.arm(deadline);
      const result = context.callFunction(fn, context.undefined, ...handles);
      for (const h of handles) h.dispose();
      if (result.error !== undefined) {
        escaped = result.error;
        answer = '';
      } else {
        answer = context.getString(result.value);
        result.value.dispose();
        // Promise callbacks queued by user code run now, inside this call's time limit.
        if (runtime.hasPendingJob()) {
          ranJobs = true;
          runtime.executePendingJobs().dispose();
        }
      }
    } catch (err) {
      throw this.crash(err);
    }
    if (escaped !== undefined) return this.escapedFailure(escaped, deadline);
    // An interrupted job only rejects its promise: the clock tells whether one ran out of time.
    if (ranJobs && Date.now() > deadline) {
      this.reset();
      throw timeoutError(this.settings.timeoutMs);
    }
    if (answer.startsWith('!')) {
      this.reset();
      return answer.slice(1);
    }
    return answer;
  }

  /** An exception the harness did not catch: time limit, memory, or a harness-level failure. */
  private escapedFailure(handle: QuickJSHandle, deadline: number): ThrownDescriptor {
    const timedOut = Date.now() > deadline;
    this.deadline = Infinity;
    let dumped: unknown;
    try {
      dumped = this.live?.context.dump(handle);
      handle.dispose();
    } catch (err) {
      throw this.crash(err);
    }
    const { name, message } = readError(dumped);
    this.reset();
    if (timedOut || message === 'interrupted') throw timeoutError(this.settings.timeoutMs);
    if (message === 'out of memory' || dumped === null) return { kind: 'oom', name: 'InternalError', message: 'out of memory' };
    return { kind: 'error', name, message };
  }

  private ensureLive(): Live {
    if (this.live !== undefined) return this.live;
    this.module ??= takeSpareModule(this.settings.memoryBytes);
    if (this.module === undefined) {
      throw new RefugeError('sandbox_error', 'the sandbox is restarting after a crash; retry shortly');
    }
    this.arm(Date.now() + Math.max(this.settings.timeoutMs, 5000));
    try {
      this.live = startHarness(this.module, this.settings, () => Date.now() > this.deadline);
      return this.live;
    } catch (err) {
      // A harness that cannot start (memory limit too small, huge ddoc) is reported; an instance
      // that could not even clean up, or threw at host level, is replaced by the spare.
      if (!(err instanceof HarnessStartError) || err.instanceBroken) this.module = undefined;
      throw new RefugeError('sandbox_error', `the sandbox could not start: ${errorMessage(err)}`, { cause: err });
    } finally {
      this.deadline = Infinity;
    }
  }

  private arm(at: number): void {
    this.deadline = at;
    this.settings.armed?.(at);
  }

  /** Disposes the runtime; the next call builds a new one. A failing dispose condemns the instance. */
  private reset(): void {
    const live = this.live;
    this.live = undefined;
    if (live === undefined) return;
    try {
      live.compile.dispose();
      live.run.dispose();
      live.context.dispose();
      live.runtime.dispose();
    } catch {
      this.module = undefined;
    }
  }

  private crash(err: unknown): RefugeError {
    if (err instanceof RefugeError) return err;
    // Never touch the old instance again (disposing it could abort); the spare replaces it.
    this.live = undefined;
    this.module = undefined;
    const reason = err instanceof RangeError ? 'native stack overflow' : errorMessage(err);
    return new RefugeError('sandbox_error', `the sandbox crashed (${reason}); the next call runs in a fresh instance`, {
      cause: err,
    });
  }
}

function readError(dumped: unknown): { name: string; message: string } {
  if (dumped !== null && typeof dumped === 'object') {
    const { name, message } = dumped as { name?: unknown; message?: unknown };
    return { name: typeof name === 'string' ? name : 'Error', message: typeof message === 'string' ? message : String(dumped) };
  }
  return { name: 'Error', message: String(dumped) };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
