// Browsers (and other non-Node hosts): the engine runs on the calling thread, since a browser's main
// thread cannot block on Atomics.wait; the time limit is then QuickJS's interrupt handler alone.

import { acquireModule } from './module-pool.ts';
import { QuickJsEngine, type EngineSettings, type SandboxEngine } from './quickjs-engine.ts';

export async function openEngine(settings: EngineSettings): Promise<SandboxEngine> {
  return new QuickJsEngine(await acquireModule(settings.memoryBytes), settings);
}
