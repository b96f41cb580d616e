// Node: the engine runs in the sandbox thread (thread-host.ts), so a call past its time limit is
// stopped however it spends its time; this proxy keeps the synchronous engine interface.

import { RefugeError } from '../errors/index.ts';
import type { RunKind } from './harness-source.ts';
import type { Deadline, EngineSettings, RunOutcome, SandboxEngine } from './quickjs-engine.ts';
import { callThread, callThreadAsync, notifyThread, prepareThreads, useMemorySize } from './thread-host.ts';
import type { OpenEngine, Operation, Reply, Request } from './thread-protocol.ts';

let nextSid = 1;

export async function openEngine(settings: EngineSettings): Promise<SandboxEngine> {
  useMemorySize(settings.memoryBytes);
  await prepareThreads();
  const engine = new ThreadEngine(settings);
  // Opened now, so a sandbox that cannot start fails at creation, as in-thread; without blocking,
  // as the thread may be running another sandbox's call.
  await engine.openAsync();
  return engine;
}

class ThreadEngine implements SandboxEngine {
  private readonly sid = nextSid++;
  /** Every function compiled: a replaced thread's new engine recompiles them on first use. */
  private readonly sources = new Map<number, string>();
  private openedIn = -1;
  private disposed = false;
  /** Settles once every asynchronous call made so far has (they run in the order they were made). */
  private calls: Promise<unknown> = Promise.resolve();

  constructor(private readonly settings: EngineSettings) {}

  async openAsync(): Promise<void> {
    await this.callAsync({ op: 'open' });
  }

  compile(id: number, source: string): void {
    this.call({ op: 'compile', id, source });
    this.sources.set(id, source);
  }

  async compileAsync(id: number, source: string): Promise<void> {
    await this.callAsync({ op: 'compile', id, source });
    this.sources.set(id, source);
  }

  run(kind: RunKind, id: number, payload: string, deadline: Deadline): RunOutcome {
    // The time left, from when the thread takes the request: waiting for a replacement thread to
    // start, or for the message, is not charged to the call.
    const reply = this.call({ op: 'run', kind, id, payload, leftMs: NaN }, deadline); // call() sets leftMs
    if (reply.at !== undefined) deadline.at = reply.at;
    return reply.ok as RunOutcome;
  }

  async runAsync(kind: RunKind, id: number, payload: string, deadline: Deadline): Promise<RunOutcome> {
    // The time left from now: waiting behind other sandboxes' calls is not charged to this one.
    const reply = await this.callAsync({ op: 'run', kind, id, payload, leftMs: deadline.at - Date.now() });
    if (reply.at !== undefined) deadline.at = reply.at;
    return reply.ok as RunOutcome;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // After the calls already made: the thread would not know the sandbox when their turn came.
    void this.calls.then(() => notifyThread({ op: 'dispose', sid: this.sid }, this.openedIn));
  }

  private call(op: Operation, deadline?: Deadline): Reply {
    if (this.disposed) throw new RefugeError('closed', 'the sandbox was disposed');
    const asked = Date.now();
    const opening = { value: false };
    const reply = callThread(this.request(op, opening, deadline === undefined ? undefined : () => deadline.at - asked), this.settings.timeoutMs);
    return this.answer(reply, opening.value);
  }

  private async callAsync(op: Operation): Promise<Reply> {
    if (this.disposed) throw new RefugeError('closed', 'the sandbox was disposed');
    const opening = { value: false };
    const called = callThreadAsync(this.request(op, opening), this.settings.timeoutMs);
    this.calls = called.catch(() => undefined);
    return this.answer(await called, opening.value);
  }

  /** The request for a thread's generation; opening the engine there when it is a new one. */
  private request(op: Operation, opening: { value: boolean }, leftMs?: () => number): (generation: number) => Request {
    return (generation) => {
      opening.value = generation !== this.openedIn;
      this.openedIn = generation;
      const left = leftMs === undefined ? {} : { leftMs: leftMs() };
      return { ...op, ...left, sid: this.sid, ...(opening.value && { open: this.openRequest() }) };
    };
  }

  private answer(reply: Reply, opened: boolean): Reply {
    const { log } = this.settings;
    if (log !== undefined) for (const line of reply.logs ?? []) deliver(log, line);
    if (reply.error !== undefined) {
      // The engine may not exist in the thread: the next call opens it again.
      if (opened) this.openedIn = -1;
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
