// Merging the path index's postings, as writer jobs: the values a query found fragmented (light
// merges, soon after the query) and every value at compaction (full merges).

import type { DbCore } from './core.ts';
import { INDEX } from './keys.ts';
import { planMerge, prefixOf, valueRange, type PostingMerge } from './postings.ts';
import type { WriteBatch } from './write-batch.ts';
import type { Writer } from './writer.ts';

/** Postings read per compaction job: each job is one exclusive write, so writes wait at most one. */
const COMPACT_CHUNK = 2000;

/**
 * Whether the index may be merged now. Turning it off or on clears the `i!` keys outside the
 * writer once a write has marked it not ready: a merge after that mark would write back what the
 * clear removes. Jobs run one at a time, so one that saw it ready ended before the mark.
 */
const indexLive = (core: DbCore) => core.state.autoIndex && core.state.pathIndexReady;

function applyMerge(batch: WriteBatch, plan: PostingMerge | undefined): void {
  if (!plan) return;
  for (const k of plan.del) batch.setRaw(k, null);
  for (const [k, v] of plan.put) batch.setRaw(k, v);
}

async function readValue(core: DbCore, prefix: string): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const chunk of core.store.scan(valueRange(prefix), 256)) out.push(...chunk);
  return out;
}

/** Queues light merges of values queries found fragmented; one job at a time per database. */
export class PostingMerger {
  private readonly queued = new Set<string>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly core: DbCore,
    private readonly writer: Writer,
  ) {}

  readonly fragmented = (prefix: string): void => {
    this.queued.add(prefix);
    this.running ??= this.run().finally(() => (this.running = undefined));
  };

  /** Resolves when every merge queued so far is done (tests, close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    while (this.queued.size > 0) {
      const prefixes = [...this.queued].slice(0, 64);
      for (const p of prefixes) this.queued.delete(p);
      try {
        await this.writer.submit(async (batch) => {
          if (!indexLive(this.core)) return;
          for (const prefix of prefixes) applyMerge(batch, planMerge(prefix, await readValue(this.core, prefix), false));
        }, true);
      } catch {
        // A closed or failed database: the postings stay as they are, still correct, only slower.
        this.queued.clear();
        return;
      }
    }
  }
}

/** Fully merges every value with more than one posting or with removals (compaction). */
export async function mergeAllPostings(core: DbCore, writer: Writer): Promise<void> {
  let cursor = INDEX;
  for (;;) {
    const next = await writer.submit(async (batch) => {
      if (!indexLive(core)) return undefined;
      let prefix: string | undefined;
      let entries: Array<[string, string]> = [];
      let read = 0;
      const finish = () => {
        if (prefix !== undefined) applyMerge(batch, planMerge(prefix, entries, true));
      };
      for await (const chunk of core.store.scan({ gte: cursor, lt: 'i"' }, 256)) {
        for (const [key, value] of chunk) {
          const p = prefixOf(key);
          if (p !== prefix) {
            finish();
            // Stops between values only, so each value is merged whole in one job.
            if (read >= COMPACT_CHUNK) return p;
            prefix = p;
            entries = [];
          }
          entries.push([key, value]);
          read++;
        }
      }
      finish();
      return undefined;
    }, 'background');
    if (next === undefined) return;
    cursor = next;
  }
}
