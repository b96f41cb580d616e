// An open connection to a peer, waiting briefly for one the peer is opening to us: a peer that has
// just connected may not be registered on this side yet (a few ms after its own side is done).

import type { Connection, Libp2p, PeerId } from '@libp2p/interface';

/** How long a stream to a peer that is connecting to us waits for that connection. */
const INBOUND_WAIT_MS = 2_000;

/**
 * The peer's open connection, if there is one. When none is open and no address is known to dial
 * it at (`knowsAddresses` false), a dial would go looking for one until it timed out, so its own
 * connection is awaited briefly instead.
 */
export async function openConnectionTo(libp2p: Libp2p, id: PeerId, knowsAddresses: () => Promise<boolean>, signal?: AbortSignal): Promise<Connection | undefined> {
  const open = () => libp2p.getConnections(id).find((c) => c.status === 'open');
  const now = open();
  if (now || (await knowsAddresses())) return now;
  return new Promise<Connection | undefined>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      libp2p.removeEventListener('connection:open', onOpen);
      signal?.removeEventListener('abort', done);
      resolve(open());
    };
    const onOpen = (e: CustomEvent<Connection>) => {
      if (e.detail.remotePeer.equals(id)) done();
    };
    const timer = setTimeout(done, INBOUND_WAIT_MS);
    libp2p.addEventListener('connection:open', onOpen);
    signal?.addEventListener('abort', done, { once: true });
    // It may have opened between the first look and the listener.
    if (open()) done();
  });
}
