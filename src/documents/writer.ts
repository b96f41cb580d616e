// The single writer of a database. Requests queue up; whatever is waiting when the writer gets
// to it is applied as one atomic batch (group commit), so durable mode pays one fsync per batch
// rather than per request, and readers never see half of a bulk write.

import { RefugeError } from '../errors/index.ts';
import type { DbCore } from './core.ts';
import { WriteBatch } from './write-batch.ts';

type Job = {
  run: (batch: WriteBatch) => Promise<unknown>;
  /** Jobs that must see the store without other pending writes (compaction) run alone. */
  exclusive: boolean;
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
};

/** Upper bound on key changes merged into one batch, to keep memory and latency bounded. */
const MAX_BATCH_OPS = 200_000;

export class Writer {
  private queue: Job[] = [];
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly core: DbCore,
    private readonly onCommit: () => void,
  ) {}

  submit<T>(run: (batch: WriteBatch) => Promise<T>, exclusive = false): Promise<T> {
    if (this.closed) return Promise.reject(new RefugeError('closed', `database ${this.core.name} is closed`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, exclusive, resolve, reject });
      this.running ??= this.drain();
    });
  }

  /** Waits for queued writes, then refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        await this.commitGroup(group);
      }
    } finally {
      this.running = null;
    }
  }

  private takeGroup(): Job[] {
    const first = this.queue.shift()!;
    if (first.exclusive) return [first];
    const group = [first];
    while (this.queue.length > 0 && !this.queue[0]!.exclusive) group.push(this.queue.shift()!);
    return group;
  }

  private async commitGroup(group: Job[]): Promise<void> {
    // Jobs validate their arguments before queueing and report per-document failures as results,
    // so a throw here is a storage failure: the whole group fails and nothing is committed.
    const batch = new WriteBatch(this.core);
    const values: unknown[] = [];
    let taken = group.length;
    try {
      for (let i = 0; i < group.length; i++) {
        if (i > 0 && batch.size > MAX_BATCH_OPS) {
          taken = i;
          this.queue.unshift(...group.slice(i));
          break;
        }
        values.push(await group[i]!.run(batch));
      }
      await this.core.store.batch(batch.changes(), { sync: this.core.durability === 'durable' });
    } catch (error) {
      for (const job of group.slice(0, taken)) job.reject(error);
      return;
    }
    this.core.state = batch.state;
    for (let i = 0; i < taken; i++) group[i]!.resolve(values[i]);
    this.onCommit();
  }
}
