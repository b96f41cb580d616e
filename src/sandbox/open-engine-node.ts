// Node: the engine runs in the sandbox thread (thread-host.ts), so a call past its time limit is
// stopped however it spends its time; this proxy keeps the synchronous engine interface.

import { RefugeError } from '../errors/index.ts';
import type { RunKind } from './harness-source.ts';
import type { Deadline, EngineSettings, RunOutcome, SandboxEngine } from './quickjs-engine.ts';
import { callThread, notifyThread, prepareThreads, useMemorySize } from './thread-host.ts';
import type { OpenEngine, Operation, Reply } from './thread-protocol.ts';

let nextSid = 1;

export async function openEngine(settings: EngineSettings): Promise<SandboxEngine> {
  useMemorySize(settings.memoryBytes);
  await prepareThreads();
  const engine = new ThreadEngine(settings);
  // Opened now, so a sandbox that cannot start fails at creation, as in-thread.
  engine.open();
  return engine;
}

class ThreadEngine implements SandboxEngine {
  private readonly sid = nextSid++;
  /** Every function compiled: a replaced thread's new engine recompiles them on first use. */
  private readonly sources = new Map<number, string>();
  private openedIn = -1;
  private disposed = false;

  constructor(private readonly settings: EngineSettings) {}

  open(): void {
    this.call({ op: 'open' });
  }

  compile(id: number, source: string): void {
    this.call({ op: 'compile', id, source });
    this.sources.set(id, source);
  }

  run(kind: RunKind, id: number, payload: string, deadline: Deadline): RunOutcome {
    // The time left, from when the thread takes the request: waiting for a replacement thread to
    // start, or for the message, is not charged to the call.
    const reply = this.call({ op: 'run', kind, id, payload, leftMs: NaN }, deadline); // call() sets leftMs
    if (reply.at !== undefined) deadline.at = reply.at;
    return reply.ok as RunOutcome;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    notifyThread({ op: 'dispose', sid: this.sid }, this.openedIn);
  }

  private call(op: Operation, deadline?: Deadline): Reply {
    if (this.disposed) throw new RefugeError('closed', 'the sandbox was disposed');
    let opening = false;
    const asked = Date.now();
    const reply = callThread((generation) => {
      opening = generation !== this.openedIn;
      this.openedIn = generation;
      const left = deadline === undefined ? {} : { leftMs: deadline.at - asked };
      return { ...op, ...left, sid: this.sid, ...(opening && { open: this.openRequest() }) };
    }, this.settings.timeoutMs);
    const { log } = this.settings;
    if (log !== undefined) for (const line of reply.logs ?? []) deliver(log, line);
    if (reply.error !== undefined) {
      // The engine may not exist in the thread: the next call opens it again.
      if (opening) this.openedIn = -1;
      throw new RefugeError(reply.error.code, reply.error.reason);
    }
    return reply;
  }

  private openRequest(): OpenEngine {
    const { timeoutMs, memoryBytes, stackBytes, ddocJson, sliceMs, log } = this.settings;
    return { settings: { timeoutMs, memoryBytes, stackBytes, ddocJson, sliceMs }, logs: log !== undefined, sources: [...this.sources] };
  }
}

function deliver(log: (line: string) => void, line: string): void {
  try {
    log(line);
  } catch {
    // A failing log sink must not fail the user function.
  }
}
