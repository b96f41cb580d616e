// Two-way sync: a push and a pull running together. Either failing cancels the other, because a
// half-synced pair is what the caller must hear about, not silently get.

import type { RefugeError } from '../errors/index.ts';
import { Emitter } from './emitter.ts';
import type { ReplicateOptions } from './options.ts';
import type { ReplicationPeer } from './peer.ts';
import { toPeer, type PeerLike } from './to-peer.ts';
import type { ReplicationEvents, ReplicationReport } from './events.ts';
import { Replication } from './replicator.ts';

export type Direction = 'push' | 'pull';

export interface SyncOptions extends ReplicateOptions {
  /** Options for a → b only (merged over the shared ones). */
  push?: ReplicateOptions;
  /** Options for b → a only. */
  pull?: ReplicateOptions;
}

type Forwarded = 'active' | 'paused' | 'change' | 'checkpoint' | 'retry';

export type SyncEvents = {
  [K in Forwarded]: ReplicationEvents[K] & { direction: Direction };
} & {
  error: { direction: Direction; error: RefugeError };
  complete: { push: ReplicationReport; pull: ReplicationReport };
};

export class Sync extends Emitter<SyncEvents> {
  readonly push: Replication;
  readonly pull: Replication;
  readonly done: Promise<{ push: ReplicationReport; pull: ReplicationReport }>;

  constructor(a: ReplicationPeer, b: ReplicationPeer, options: SyncOptions = {}) {
    super();
    const { push, pull, ...shared } = options;
    this.push = new Replication(a, b, { ...shared, ...push });
    try {
      this.pull = new Replication(b, a, { ...shared, ...pull });
    } catch (err) {
      this.push.cancel();
      throw err;
    }
    this.forward('push', this.push);
    this.forward('pull', this.pull);
    this.done = Promise.all([this.push.done, this.pull.done]).then(([push, pull]) => {
      const result = { push, pull };
      this.emit('complete', result);
      return result;
    });
    this.done.catch(() => undefined);
  }

  cancel(): void {
    this.push.cancel();
    this.pull.cancel();
  }

  private forward(direction: Direction, rep: Replication): void {
    for (const event of ['active', 'paused', 'change', 'checkpoint', 'retry'] as const) {
      rep.on(event, (payload) => this.emit(event, { ...payload, direction } as never));
    }
    rep.on('error', (error) => {
      this.cancel();
      this.emit('error', { direction, error });
    });
  }
}

/** Replicates both ways between `a` and `b` (push a → b, pull b → a). */
export function sync(a: PeerLike, b: PeerLike, options: SyncOptions = {}): Sync {
  return new Sync(toPeer(a), toPeer(b), options);
}
