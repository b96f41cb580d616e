// `#mesh/address-file` without a filesystem (browsers): a node there has no data directory to
// publish its addresses in, so asking for it (`publishAddressesTo`) is refused.

import { RefugeError } from '../errors/index.ts';

export async function writeAddressFile(_dataDir: string, _peerId: string, _addrs: string[]): Promise<void> {
  throw new RefugeError('not_implemented', 'publishAddressesTo needs a filesystem, which this platform lacks');
}

export async function removeAddressFile(_dataDir: string): Promise<void> {}
