// mesh.replicate: 100k small docs pulled from one Refuge node into another over the mesh
// (MeshPeer, `/refuge/replication/1.0.0`) vs over HTTP (the source's startServer, HttpPeer).

import { addPeer, MeshNode, MemoryTrustStore } from '../src/mesh/index.ts';
import { openNode, type RefugeNode } from '../src/node/index.ts';
import { HttpPeer, LocalPeer, Replication, type ReplicationPeer } from '../src/replication/index.ts';
import { spawnScript, WITH_ALLOCATOR } from './http-children.ts';
import { envCount } from './http-size.ts';
import { median, note, perSecond, timed, type Emit } from './report.ts';
import { withTempDir } from './temp-dir.ts';

const DB = 'bench';

/** Pulls the source's docs into a fresh local database of the target through `peer`; docs/s. */
async function pull(label: string, peer: ReplicationPeer, target: RefugeNode, name: string, n: number): Promise<number> {
  const db = await target.createDb(name);
  try {
    const rep = new Replication(peer, new LocalPeer(db));
    const { ms, value: report } = await timed(() => rep.done);
    if (report.docsWritten !== n || report.docWriteFailures !== 0) throw new Error(`${label}: wrote ${report.docsWritten} docs, expected ${n}`);
    const count = (await db.info()).docCount;
    if (count !== n) throw new Error(`${label}: target holds ${count} docs, expected ${n}`);
    const rate = perSecond(n, ms);
    note(`${label}: ${n} docs in ${Math.round(ms)} ms, ${Math.round(rate)} docs/s`);
    return rate;
  } finally {
    await target.deleteDb(name);
  }
}

/**
 * The source node runs in a child process (mesh-source-child.ts) and serves one database over both
 * HTTP and the mesh; the target, here, pulls it into a fresh database each time, one way then the
 * other. Two processes, as two nodes are: in one process, Noise's encryption on both ends of every
 * stream shared one event loop and the figure measured that more than the transport.
 */
export async function runReplicate(emit: Emit): Promise<void> {
  const n = envCount('BENCH_REPL_DOCS', 100_000);
  const rounds = envCount('BENCH_MESH_ROUNDS', 3);
  note(`mesh.replicate: ${n} docs (~200 B), LevelDB (fast) nodes in two processes, the target pulls with the replicator's defaults; median of ${rounds} rounds per side`);
  await withTempDir('mesh-replicate', async (dir) => {
    const target = await openNode({ dataDir: dir, engine: 'leveldb', durability: 'fast' });
    const mt = await MeshNode.start({ key: target.key, trust: new MemoryTrustStore(), node: target, keepTrustedConnected: false, listen: ['/ip4/127.0.0.1/tcp/0'] });
    const source = await spawnScript('mesh-source', 'mesh-source-child.ts', [], [String(n), mt.peerId], ['sh', WITH_ALLOCATOR], true);
    try {
      const sourceId = await mt.connect(String(source.info.invite));
      await mt.trust.update((s) => addPeer(s, { id: sourceId }));
      const http: number[] = [];
      const mesh: number[] = [];
      const sides = {
        http: (r: number) => pull('http', new HttpPeer(`${source.url}/${DB}`), target, `http-${r}`, n).then((v) => http.push(v)),
        mesh: (r: number) => pull('mesh', mt.peer(sourceId, DB), target, `mesh-${r}`, n).then((v) => mesh.push(v)),
      };
      // Alternated, first side swapped each round: drift on a shared machine hits both sides alike.
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? (['http', 'mesh'] as const) : (['mesh', 'http'] as const);
        for (const side of order) await sides[side](r);
      }
      emit({ bench: 'mesh.replicate', unit: 'docs/s', refuge: median(mesh), anchor: 'same over HTTP (startServer, HttpPeer)', anchorValue: median(http) });
    } finally {
      await source.stop();
      await mt.stop();
      await target.close();
    }
  });
}
