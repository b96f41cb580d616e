// One QuickJS WebAssembly instance per sandbox, plus one warm spare (per memory bound) so a sandbox
// whose instance crashed can swap to a fresh one synchronously, in the middle of a call.

// Why not one shared instance (getQuickJS()): user code can exhaust Node's native stack inside
// WASM (QuickJS's parser and JSON recursion use 10-30x more native stack than QuickJS accounts
// for). V8 then unwinds through WASM frames, leaking the instance's shadow stack and leaving the
// runtime half-updated; about a hundred such crashes kill an instance for every runtime in it.
// A private instance per design document is cheap (~5-8 ms, well under 1 MB until used), is
// dropped whole after a crash, and returns its memory to the system when the sandbox is disposed.
import { newQuickJSWASMModule, newVariant, RELEASE_SYNC, type CustomizeVariantOptions, type QuickJSWASMModule } from 'quickjs-emscripten';

/** The build's INITIAL_MEMORY in 64 KiB pages (16 MiB: its data, stacks and first heap). */
const BASE_PAGES = 256;
/** wasm32's reach, 2 GiB: the build's own maximum. */
const MAX_PAGES = 32768;
const PAGE = 65536;

/**
 * The pages an instance may grow to for a sandbox of `memoryBytes`: its base, then twice the heap
 * limit (allocator slack). QuickJS's own limit does not hold on its own in this build: a loop of
 * `a.push(new Array(1e5).fill(x))` under a 16 MiB limit grew an instance past 1.5 GB in ~10 s,
 * kept for the sandbox's life. The instance's memory maximum is a bound no allocation passes: a
 * grow past it fails, and QuickJS reports "out of memory".
 */
export function memoryPages(memoryBytes: number): number {
  return Math.min(MAX_PAGES, BASE_PAGES + Math.ceil((2 * memoryBytes) / PAGE));
}

/** WebAssembly's Memory, in Node and browsers alike (the ES2023 lib this project compiles with does not declare it). */
type WasmMemory = NonNullable<CustomizeVariantOptions['wasmMemory']>;
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => WasmMemory } }).WebAssembly;

const spares = new Map<number, QuickJSWASMModule>();
const loading = new Map<number, Promise<void>>();

function newModule(pages: number): Promise<QuickJSWASMModule> {
  return newQuickJSWASMModule(newVariant(RELEASE_SYNC, { wasmMemory: new Memory({ initial: BASE_PAGES, maximum: pages }) }));
}

function ensureSpare(pages: number): Promise<void> {
  if (spares.has(pages)) return Promise.resolve();
  let load = loading.get(pages);
  if (load === undefined) {
    load = newModule(pages).then(
      (module) => {
        spares.set(pages, module);
        loading.delete(pages);
      },
      (err: unknown) => {
        loading.delete(pages);
        throw err;
      },
    );
    loading.set(pages, load);
  }
  return load;
}

/** A fresh instance for a new sandbox of `memoryBytes`; resolves once a spare is ready again for crash recovery. */
export async function acquireModule(memoryBytes: number): Promise<QuickJSWASMModule> {
  const pages = memoryPages(memoryBytes);
  let module = takeSpare(pages);
  while (module === undefined) {
    await ensureSpare(pages);
    module = takeSpare(pages);
  }
  await ensureSpare(pages);
  return module;
}

/** The warm spare, if one is ready (refilled in the background); for recovery inside a sync call. */
export function takeSpareModule(memoryBytes: number): QuickJSWASMModule | undefined {
  const pages = memoryPages(memoryBytes);
  const module = takeSpare(pages);
  ensureSpare(pages).catch(() => {
    // A failed refill is retried by the next acquire or crash; the crashed call already failed.
  });
  return module;
}

function takeSpare(pages: number): QuickJSWASMModule | undefined {
  const module = spares.get(pages);
  spares.delete(pages);
  return module;
}
