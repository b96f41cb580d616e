// Child process of mesh.idle_rss: N Refuge nodes (LevelDB, one shared database each) with a MeshNode
// and AutoSync, connected in a ring of trusted peers, left idle; prints its RSS before, after and at
// peak as one JSON line. A fresh process, so memory freed by earlier suites cannot hide the growth.

import { AutoSync, addPeer, MeshNode, MemoryTrustStore, setGrant } from '../src/mesh/index.ts';
import { openNode, type RefugeNode } from '../src/node/index.ts';
import { collectGarbage } from './report.ts';
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

export interface IdleRss {
  n: number;
  docs: number;
  idleMs: number;
  beforeMb: number;
  afterMb: number;
  peakMb: number;
}

async function measure(): Promise<IdleRss> {
  const n = envCount('BENCH_MESH_NODES', 10);
  return withTempDir('mesh-idle', async (dir) => {
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
      return { n, docs, idleMs: IDLE_MS, beforeMb: before, afterMb: after, peakMb: peak };
    } finally {
      sampler.stop();
      for (const r of running) await r.sync?.stop();
      for (const r of running) await r.mesh.stop();
      for (const r of running) await r.node.close();
    }
  });
}

process.stdout.write(JSON.stringify(await measure()) + '\n');
