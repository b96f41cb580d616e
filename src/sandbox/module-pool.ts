// One QuickJS WebAssembly instance per sandbox, plus one warm spare so a sandbox whose instance
// crashed can swap to a fresh one synchronously, in the middle of a call.

// Why not one shared instance (getQuickJS()): user code can exhaust Node's native stack inside
// WASM (QuickJS's parser and JSON recursion use 10-30x more native stack than QuickJS accounts
// for). V8 then unwinds through WASM frames, leaking the instance's shadow stack and leaving the
// runtime half-updated; about a hundred such crashes kill an instance for every runtime in it.
// A private instance per design document is cheap (~5-8 ms, well under 1 MB until used), is
// dropped whole after a crash, and returns its memory to the system when the sandbox is disposed.
import { newQuickJSWASMModule, type QuickJSWASMModule } from 'quickjs-emscripten';

let spare: QuickJSWASMModule | undefined;
let loading: Promise<void> | undefined;

function ensureSpare(): Promise<void> {
  if (spare !== undefined) return Promise.resolve();
  loading ??= newQuickJSWASMModule().then(
    (module) => {
      spare = module;
      loading = undefined;
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/** A fresh instance for a new sandbox; resolves once a spare is ready again for crash recovery. */
export async function acquireModule(): Promise<QuickJSWASMModule> {
  let module = takeSpare();
  while (module === undefined) {
    await ensureSpare();
    module = takeSpare();
  }
  await ensureSpare();
  return module;
}

/** The warm spare, if one is ready (refilled in the background); for recovery inside a sync call. */
export function takeSpareModule(): QuickJSWASMModule | undefined {
  const module = takeSpare();
  ensureSpare().catch(() => {
    // A failed refill is retried by the next acquire or crash; the crashed call already failed.
  });
  return module;
}

function takeSpare(): QuickJSWASMModule | undefined {
  const module = spare;
  spare = undefined;
  return module;
}
