// Where the trust state lives: one small interface, and the in-memory store (portable; nodes without
// a data directory, tests). The file store is in trust-file.ts (Node only).

import { emptyTrust, parseTrustState, type TrustState } from './trust.ts';

export interface TrustStore {
  /** The current state; a persisted store re-reads it when someone else (the CLI) changed it. */
  current(): Promise<TrustState>;
  /** Applies a pure change to the latest state and persists it; answers the new state. */
  update(change: (state: TrustState) => TrustState): Promise<TrustState>;
}

export class MemoryTrustStore implements TrustStore {
  private state: TrustState;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(initial: TrustState = emptyTrust()) {
    this.state = parseTrustState(initial);
  }

  current(): Promise<TrustState> {
    return Promise.resolve(this.state);
  }

  update(change: (state: TrustState) => TrustState): Promise<TrustState> {
    const next = this.chain.then(() => (this.state = change(this.state)));
    this.chain = next.catch(() => undefined);
    return next;
  }
}
