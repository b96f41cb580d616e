// Why a mesh does not start, said plainly: addresses that are no multiaddrs are bad input, and
// libp2p's listen failures come down to one line per address.

import { multiaddr } from '@multiformats/multiaddr';
import { RefugeError } from '../errors/index.ts';

/** Addresses that are no multiaddrs are bad input (a usage error), not a mesh that failed. */
export function checkListenAddrs(addrs: readonly string[], what = 'to listen on'): void {
  for (const addr of addrs) {
    try {
      multiaddr(addr);
    } catch (err) {
      throw new RefugeError('bad_request', `not a multiaddr ${what}: ${addr}`, { cause: err });
    }
  }
}

/**
 * What went wrong, in a line: libp2p lists each address it could not listen on with the error's
 * stack and advice about its own settings; a user needs the address and the reason.
 */
export function startFailure(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const addresses = message
    .split('\n')
    .map((line) => /^\s+(\/\S+): (?:\w*Error: )?(.*)$/.exec(line))
    .filter((m) => m !== null)
    .map((m) => `cannot listen on ${m[1]}: ${m[2]}`);
  return addresses.length > 0 ? addresses.join('; ') : message.split('\n', 1)[0]!;
}
