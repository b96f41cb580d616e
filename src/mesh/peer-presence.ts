// Which trusted peers are up, and the order their up/down events go out in: libp2p's connection
// events and trust changes are applied one at a time, as they were reported.

import type { PeerEvent } from './mesh-node-options.ts';
import type { TrustState } from './trust.ts';

export class PeerPresence {
  private readonly up = new Map<string, PeerEvent>();
  private events: Promise<void> = Promise.resolve();

  constructor(private readonly emit: (name: 'peer:up' | 'peer:down', event: PeerEvent) => void) {}

  /** Runs `task` after every task queued before it (a failed one does not stop the queue). */
  queue(task: () => Promise<void>): Promise<void> {
    const next = this.events.then(task);
    this.events = next.catch(() => undefined);
    return next;
  }

  has(peerId: string): boolean {
    return this.up.has(peerId);
  }

  list(): PeerEvent[] {
    return [...this.up.values()];
  }

  markUp(peerId: string, state: TrustState): void {
    const name = state.peers[peerId]?.name;
    const event: PeerEvent = name === undefined ? { peerId } : { peerId, name };
    this.up.set(peerId, event);
    this.emit('peer:up', event);
  }

  /** `peer:down` for a peer that was up (nothing for one that was not). */
  markDown(peerId: string): void {
    const event = this.up.get(peerId);
    if (event === undefined) return;
    this.up.delete(peerId);
    this.emit('peer:down', event);
  }

  /** Brings the up set in line with the connected peers and the trust state. */
  reconcile(connected: readonly string[], state: TrustState): void {
    for (const id of connected) {
      if (Object.hasOwn(state.peers, id) && !this.up.has(id)) this.markUp(id, state);
      else if (!Object.hasOwn(state.peers, id) && this.up.has(id)) this.markDown(id);
    }
  }

  markAllDown(): void {
    for (const id of [...this.up.keys()]) this.markDown(id);
  }
}
