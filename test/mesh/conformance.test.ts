// The replication peer contract, run on MeshPeer: a database of another node reached over the
// mesh (loopback TCP), the asking node trusted with read and write grants on it.

import { addPeer, setGrant } from '../../src/mesh/index.ts';
import { peerConformance } from '../replication/peer-conformance.ts';
import { startPeerNode } from './helpers.ts';

peerConformance('MeshPeer (loopback TCP)', async () => {
  const server = await startPeerNode();
  const client = await startPeerNode();
  const me = client.mesh.peerId;
  await server.trust.update((s) => setGrant(setGrant(addPeer(s, { id: me }), 'test', 'read', `peer:${me}`, true), 'test', 'write', `peer:${me}`, true));
  const db = await server.node.createDb('test');
  await client.mesh.connect(server.mesh.invite());
  return {
    peer: client.mesh.peer(server.mesh.peerId, 'test'),
    put: async (doc) => (await db.put(doc)).rev,
    cleanup: async () => {
      await client.close();
      await server.close();
    },
  };
});
