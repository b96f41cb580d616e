// Awaiting replication events in tests: event-driven, never a sleep. Rejects if the replication
// ends first, so a missing event fails the test instead of hanging it.

import type { Replication, ReplicationEvents } from '../../../src/replication/index.ts';

export function nextEvent<K extends keyof ReplicationEvents>(
  rep: Replication,
  event: K,
  predicate: (payload: ReplicationEvents[K]) => boolean = () => true,
): Promise<ReplicationEvents[K]> {
  return new Promise((resolve, reject) => {
    const off = rep.on(event, (payload) => {
      if (!predicate(payload)) return;
      off();
      resolve(payload);
    });
    rep.done.then(
      () => reject(new Error(`replication ended before a matching '${String(event)}' event`)),
      (err) => reject(err),
    );
  });
}
