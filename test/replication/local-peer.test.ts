// The peer conformance suite on LocalPeer (an in-process Database), on both storage engines.

import { freshDb, ENGINES } from '../helpers/db.ts';
import { LocalPeer } from '../../src/replication/index.ts';
import { peerConformance } from './peer-conformance.ts';

for (const engine of ENGINES) {
  peerConformance(`LocalPeer (${engine})`, async () => {
    const { db, cleanup } = await freshDb(engine);
    return {
      peer: new LocalPeer(db),
      put: async (doc) => (await db.put(doc)).rev,
      cleanup,
    };
  });
}
