// mesh.idle_rss: N Refuge nodes (LevelDB, one shared database each) with a MeshNode and AutoSync,
// connected in a ring of trusted peers, left idle: the process's RSS growth per node.

import { AutoSync, addPeer, MeshNode, MemoryTrustStore, setGrant } from '../src/mesh/index.ts';
import { openNode, type RefugeNode } from '../src/node/index.ts';
import { collectGarbage, note, type Emit } from './report.ts';
import { RssSampler } from './rss-sampler.ts';
import { withTempDir } from './temp-dir.ts';
import { envCount } from './http-size.ts';

const IDLE_MS = 3000;
const MB = 1024 * 1024;

interface Running {
  node: RefugeNode;
  mesh: MeshNode;
  trust: MemoryTrustStore;
  sync?: AutoSync;
}

const rssMb = (): number => {
  collectGarbage();
  return process.memoryUsage.rss() / MB;
};

export async function runIdleRss(emit: Emit): Promise<void> {
  const n = envCount('BENCH_MESH_NODES', 10);
  await withTempDir('mesh-idle', async (dir) => {
    const running: Running[] = [];
    const before = rssMb();
    const sampler = new RssSampler();
    try {
      for (let i = 0; i < n; i++) {
        const node = await openNode({ dataDir: `${dir}/n${i}`, engine: 'leveldb', durability: 'fast' });
        const trust = new MemoryTrustStore();
        const mesh = await MeshNode.start({ key: node.key, trust, node, keepTrustedConnected: false });
        await (await node.createDb('notes')).put({ _id: `from-${i}` });
        running.push({ node, mesh, trust });
      }
      // A ring: each node trusts its two neighbours with its notes, and every node syncs.
      for (let i = 0; i < n; i++) {
        const self = running[i]!;
        for (const j of [(i + 1) % n, (i + n - 1) % n]) {
          const id = running[j]!.mesh.peerId;
          await self.trust.update((s) => setGrant(setGrant(addPeer(s, { id }), 'notes', 'read', `peer:${id}`, true), 'notes', 'write', `peer:${id}`, true));
        }
      }
      for (const r of running) r.sync = new AutoSync({ mesh: r.mesh, node: r.node });
      const caughtUp = running.map((r) => new Promise<void>((resolve) => {
        const from = new Set<string>();
        const off = r.sync!.on('paused', (e) => {
          if (e.error === undefined && from.add(e.peerId).size === 2) {
            off();
            resolve();
          }
        });
      }));
      for (let i = 0; i < n; i++) await running[i]!.mesh.connect(running[(i + 1) % n]!.mesh.invite());
      await Promise.all(caughtUp);
      // Idle: nothing to do but keep connections and long-polls open (a benchmark may wait on time).
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const peak = sampler.stop();
      const after = rssMb();
      const docs = (await (await running[0]!.node.db('notes')).info()).docCount;
      const perNode = (after - before) / n;
      note(`mesh.idle_rss: ${n} nodes (LevelDB, mesh on TCP+WS, AutoSync with 2 peers each, ${docs} docs synced into each); ` +
        `RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB after ${IDLE_MS} ms idle (peak ${peak.toFixed(0)} MB, ${((peak - before) / n).toFixed(1)} MB/node)`);
      emit({ bench: 'mesh.idle_rss', unit: 'MB/node', refuge: perNode, anchor: 'target', anchorValue: 80, higherIsBetter: false });
    } finally {
      sampler.stop();
      for (const r of running) await r.sync?.stop();
      for (const r of running) await r.mesh.stop();
      for (const r of running) await r.node.close();
    }
  });
}
