// Storage ops kept in order in plain arrays, to be added to a storage chain later: the writer keeps
// bulk groups' ops here so the engine's own puts run after the write is answered (writer-flush.ts).

import type { KvChain } from '../storage/index.ts';

/** What a write group's ops are appended to: a storage chain, or an OpBuffer in front of one. */
export type OpSink = Pick<KvChain, 'put' | 'del'>;

export class OpBuffer implements OpSink {
  private readonly keys: string[] = [];
  /** Per key, its value, or null for a delete. */
  private readonly values: Array<string | null> = [];

  put(key: string, value: string): void {
    this.keys.push(key);
    this.values.push(value);
  }

  del(key: string): void {
    this.keys.push(key);
    this.values.push(null);
  }

  get length(): number {
    return this.keys.length;
  }

  /** Adds every op to `chain` in the order they came (a later op on a key wins there). */
  addTo(chain: OpSink): void {
    const { keys, values } = this;
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]!;
      if (value === null) chain.del(keys[i]!);
      else chain.put(keys[i]!, value);
    }
  }
}
