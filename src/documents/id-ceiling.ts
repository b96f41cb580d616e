// The highest document id with a record, stored or being written: an id above it names no
// document, so new documents whose ids increase (the time-ordered ids Refuge makes, a sorted load,
// a replication in id order) are written without a storage read to learn they are new.

import { compareStrings } from '../query/index.ts';
import type { KvReader } from '../storage/index.ts';
import { DOC } from './keys.ts';

/**
 * Kept by the writer. It may only ever be too high (an id below it is read, as any id was before):
 * raised as a write group gives a record, before that is stored, and never lowered (a purge, a
 * write group that fails, data storage dropped as damaged leave it where it is).
 */
export class IdCeiling {
  /** False until read from storage: every id may name a document until then. */
  private known = false;
  private highest: string | undefined;

  /** Reads the highest stored id: one reverse seek. */
  async load(store: KvReader): Promise<void> {
    for await (const keys of store.scanKeys({ gte: DOC, lt: 'd"', reverse: true, limit: 1 }, 1)) {
      if (keys.length > 0) this.highest = keys[0]!.slice(DOC.length);
    }
    this.known = true;
  }

  /** True when `id` sorts above every id with a record: no document has it. */
  isAbove(id: string): boolean {
    return this.known && (this.highest === undefined || compareStrings(id, this.highest) > 0);
  }

  /** A record is about to be stored for `id`. */
  raise(id: string): void {
    if (this.isAbove(id)) this.highest = id;
  }
}
