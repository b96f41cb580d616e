// Builds a QuickJS runtime+context with the limits set and the harness initialised, handing back
// the two harness entry points the engine calls.

// Every handle is disposed on the way out, success or not: QuickJS aborts the whole WASM instance
// when a runtime is freed while a handle still holds one of its objects.
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule, VmCallResult } from 'quickjs-emscripten';
import { HARNESS_SOURCE } from './harness-source.ts';

export interface LiveHarness {
  runtime: QuickJSRuntime;
  context: QuickJSContext;
  compile: QuickJSHandle;
  run: QuickJSHandle;
  /** Handles compiled in this runtime (a new runtime recompiles lazily). */
  compiled: Set<number>;
}

export interface HarnessSettings {
  memoryBytes: number;
  stackBytes: number;
  /** The design document as JSON, or '' for none. */
  ddocJson: string;
  /** How long a batch runs before handing back what it did (the time limit is then renewed). */
  sliceMs: number;
  log?: (message: string) => void;
}

/** The harness did not start; `instanceBroken` when even cleaning up failed. */
export class HarnessStartError extends Error {
  constructor(
    message: string,
    readonly instanceBroken: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function startHarness(module: QuickJSWASMModule, settings: HarnessSettings, shouldInterrupt: () => boolean): LiveHarness {
  const runtime = module.newRuntime();
  const owned: QuickJSHandle[] = [];
  let context: QuickJSContext | undefined;
  try {
    runtime.setMemoryLimit(settings.memoryBytes);
    runtime.setMaxStackSize(settings.stackBytes);
    runtime.setInterruptHandler(shouldInterrupt);
    const ctx = runtime.newContext();
    context = ctx;
    const own = (h: QuickJSHandle) => {
      owned.push(h);
      return h;
    };
    const { log } = settings;
    const logFn = log === undefined ? ctx.undefined : own(ctx.newFunction('log', (line) => {
      try {
        log(ctx.getString(line));
      } catch {
        // A failing log sink must not fail the user function.
      }
    }));
    const init = own(unwrap(ctx, ctx.evalCode(HARNESS_SOURCE, 'refuge-sandbox-harness.js')));
    const ddoc = own(ctx.newString(settings.ddocJson));
    const slice = own(ctx.newNumber(settings.sliceMs));
    const api = own(unwrap(ctx, ctx.callFunction(init, ctx.undefined, logFn, ddoc, slice)));
    const compile = ctx.getProp(api, 'compile');
    const run = ctx.getProp(api, 'run');
    for (const h of owned) h.dispose();
    return { runtime, context: ctx, compile, run, compiled: new Set() };
  } catch (err) {
    let instanceBroken = false;
    try {
      for (const h of owned) if (h.alive) h.dispose();
      context?.dispose();
      runtime.dispose();
    } catch {
      instanceBroken = true;
    }
    const message = err instanceof Error ? err.message : String(err);
    throw new HarnessStartError(message, instanceBroken, { cause: err });
  }
}

function unwrap(ctx: QuickJSContext, result: VmCallResult<QuickJSHandle>): QuickJSHandle {
  if (result.error === undefined) return result.value;
  const dumped: unknown = ctx.dump(result.error);
  result.error.dispose();
  if (dumped !== null && typeof dumped === 'object') {
    const { name, message } = dumped as { name?: unknown; message?: unknown };
    throw new Error(`${String(name)}: ${String(message)}`);
  }
  throw new Error(String(dumped));
}
