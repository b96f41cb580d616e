// mesh.replicate: 100k small docs pulled from one Refuge node into another over the mesh
// (MeshPeer, `/refuge/replication/1.0.0`) vs over HTTP (the source's startServer, HttpPeer).

import { startServer } from '../src/http/index.ts';
import { addPeer, MeshNode, MemoryTrustStore, setGrant } from '../src/mesh/index.ts';
import { openNode, type RefugeNode } from '../src/node/index.ts';
import { HttpPeer, LocalPeer, Replication, type ReplicationPeer } from '../src/replication/index.ts';
import { envCount } from './http-size.ts';
import { median, note, perSecond, timed, type Emit } from './report.ts';
import { withTempDir } from './temp-dir.ts';
import { makeDocs, type BenchDoc } from './workload.ts';

const BATCH = 1000;
const DB = 'bench';

async function openPair(dir: string, docs: readonly BenchDoc[]): Promise<[RefugeNode, RefugeNode]> {
  const source = await openNode({ dataDir: `${dir}/source`, engine: 'leveldb', durability: 'fast' });
  const target = await openNode({ dataDir: `${dir}/target`, engine: 'leveldb', durability: 'fast' });
  const db = await source.createDb(DB);
  for (let i = 0; i < docs.length; i += BATCH) await db.bulkDocs(docs.slice(i, i + BATCH));
  await target.createDb(DB);
  return [source, target];
}

/** Pulls the source's docs into the target's local database through `peer`; docs/s. */
async function pull(label: string, peer: ReplicationPeer, target: RefugeNode, n: number): Promise<number> {
  const rep = new Replication(peer, new LocalPeer(await target.db(DB)));
  const { ms, value: report } = await timed(() => rep.done);
  if (report.docsWritten !== n || report.docWriteFailures !== 0) throw new Error(`${label}: wrote ${report.docsWritten} docs, expected ${n}`);
  const count = (await (await target.db(DB)).info()).docCount;
  if (count !== n) throw new Error(`${label}: target holds ${count} docs, expected ${n}`);
  const rate = perSecond(n, ms);
  note(`${label}: ${n} docs in ${Math.round(ms)} ms, ${Math.round(rate)} docs/s`);
  return rate;
}

export async function httpPull(docs: readonly BenchDoc[]): Promise<number> {
  return withTempDir('mesh-http', async (dir) => {
    const [source, target] = await openPair(dir, docs);
    const servers = [await startServer({ node: source, port: 0, replicator: false }), await startServer({ node: target, port: 0, replicator: false })];
    try {
      return await pull('http', new HttpPeer(`${servers[0]!.url}/${DB}`), target, docs.length);
    } finally {
      for (const s of servers) await s.close();
      await source.close();
      await target.close();
    }
  });
}

export async function meshPull(docs: readonly BenchDoc[]): Promise<number> {
  return withTempDir('mesh-mesh', async (dir) => {
    const [source, target] = await openPair(dir, docs);
    const trustS = new MemoryTrustStore();
    const trustT = new MemoryTrustStore();
    const ms = await MeshNode.start({ key: source.key, trust: trustS, node: source, keepTrustedConnected: false, listen: ['/ip4/127.0.0.1/tcp/0'] });
    const mt = await MeshNode.start({ key: target.key, trust: trustT, node: target, keepTrustedConnected: false, listen: ['/ip4/127.0.0.1/tcp/0'] });
    try {
      await trustS.update((s) => setGrant(addPeer(s, { id: mt.peerId }), DB, 'read', `peer:${mt.peerId}`, true));
      await trustT.update((s) => addPeer(s, { id: ms.peerId }));
      await mt.connect(ms.invite());
      return await pull('mesh', mt.peer(ms.peerId, DB), target, docs.length);
    } finally {
      await mt.stop();
      await ms.stop();
      await source.close();
      await target.close();
    }
  });
}


export async function runReplicate(emit: Emit): Promise<void> {
  const n = envCount('BENCH_REPL_DOCS', 100_000);
  const rounds = envCount('BENCH_MESH_ROUNDS', 3);
  const docs = makeDocs(n);
  note(`mesh.replicate: ${n} docs (~200 B), LevelDB (fast) nodes in this process, the target pulls with the replicator's defaults; median of ${rounds} rounds per side`);
  const http: number[] = [];
  const mesh: number[] = [];
  // Alternated, first side swapped each round: drift on a shared machine hits both sides alike.
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      http.push(await httpPull(docs));
      mesh.push(await meshPull(docs));
    } else {
      mesh.push(await meshPull(docs));
      http.push(await httpPull(docs));
    }
  }
  emit({ bench: 'mesh.replicate', unit: 'docs/s', refuge: median(mesh), anchor: 'same over HTTP (startServer, HttpPeer)', anchorValue: median(http) });
}
