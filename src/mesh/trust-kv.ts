// The trust state kept in one record of a key/value store (portable): what a node without a data
// directory (a browser tab on IndexedDB) trusts and grants outlives a reload, as trust.json does.

import { RefugeError } from '../errors/index.ts';
import type { KvStore, StorageEngine } from '../storage/index.ts';
import { emptyTrust, parseTrustState, type TrustState } from './trust.ts';
import type { TrustStore } from './trust-store.ts';

const RECORD = 'state';

export class KvTrustStore implements TrustStore {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: KvStore,
    private state: TrustState,
  ) {}

  /** Opens the store at `location` on `engine` (this one writer holds it until `close`). */
  static async open(engine: StorageEngine, location: string): Promise<KvTrustStore> {
    const store = await engine.open({ location });
    try {
      const text = await store.get(RECORD);
      let state: TrustState;
      try {
        state = text === undefined ? emptyTrust() : parseTrustState(JSON.parse(text));
      } catch (err) {
        // Fail closed, as the trust file does: damage must become neither "nobody" nor "everyone".
        throw new RefugeError('internal', `the trust state kept at ${location} is damaged`, { cause: err });
      }
      return new KvTrustStore(store, state);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  current(): Promise<TrustState> {
    return Promise.resolve(this.state);
  }

  update(change: (state: TrustState) => TrustState): Promise<TrustState> {
    const next = this.chain.then(async () => {
      const state = parseTrustState(change(this.state));
      await this.store.batch([{ type: 'put', key: RECORD, value: JSON.stringify(state) }], { sync: true });
      return (this.state = state);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  close(): Promise<void> {
    return this.chain.then(() => this.store.close());
  }
}
