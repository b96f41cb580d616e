// What became of each `_replicator` document's job, as CouchDB's scheduler reports it
// (`_scheduler/docs`), and waiting for a document to reach a state (tools and tests).

import { RefugeError } from '../errors/index.ts';
import type { JobSpec } from './job-spec.ts';
import type { Job } from './job.ts';

/** What became of a `_replicator` document, as CouchDB's scheduler reports it. */
export interface DocState {
  docId: string;
  state: 'running' | 'completed' | 'crashing' | 'failed';
  spec?: JobSpec;
  job?: Job;
  error?: string;
  /** A completed job's `_replication_stats` (without start_time), as the scheduler shows them. */
  stats?: Record<string, unknown>;
  errorCount: number;
  startTime: number;
  lastUpdated: number;
}

export class DocStates {
  private readonly states = new Map<string, DocState>();
  private readonly watchers = new Set<() => void>();

  get(docId: string): DocState | undefined {
    return this.states.get(docId);
  }

  keys(): IterableIterator<string> {
    return this.states.keys();
  }

  set(docId: string, state: DocState): void {
    this.states.set(docId, state);
    this.notify();
  }

  delete(docId: string): void {
    this.states.delete(docId);
  }

  clear(): void {
    this.states.clear();
    this.notify();
  }

  private notify(): void {
    for (const watch of [...this.watchers]) watch();
  }

  /** Resolves once document `docId` is in `state`, or its state passes a test. */
  when(docId: string, state: DocState['state'] | ((d: DocState) => boolean), signal?: AbortSignal): Promise<DocState> {
    const matches = typeof state === 'function' ? state : (d: DocState) => d.state === state;
    return new Promise((resolve, reject) => {
      const check = () => {
        const d = this.states.get(docId);
        if (d && matches(d)) done(undefined, d);
      };
      const done = (err?: unknown, d?: DocState) => {
        this.watchers.delete(check);
        signal?.removeEventListener('abort', onAbort);
        if (d) resolve(d);
        else reject(err);
      };
      const onAbort = () => done(signal!.reason ?? new RefugeError('closed', 'aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.watchers.add(check);
      check();
    });
  }

  /** Every document's state, in id order. */
  list(): DocState[] {
    return [...this.states.values()].sort((a, b) => (a.docId < b.docId ? -1 : a.docId > b.docId ? 1 : 0));
  }
}
