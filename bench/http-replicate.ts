// http.replicate and http.replicate_from_pouchdb_server: 100k docs over HTTP. PouchDB's pair is
// pouchdb-node (LevelDB, pre-filled, in this process) pushing to pouchdb-server; Refuge's is a Refuge
// node pulling from another over HTTP with its own replicator (server-side `POST /_replicate`).
// Either way the documents cross one HTTP hop, between a replicator's local database and a server.

import { startPouchServer, startRefugeServer, withServer, type ServerChild } from './http-children.ts';
import { cpuMeter } from './http-cpu.ts';
import { createDb, expectDocCount, fillDb, nodePull } from './http-fetch.ts';
import { envCount } from './http-size.ts';
import { loadPouchDB, type PouchDatabase } from './pouchdb.ts';
import { note, perSecond, timed, type Emit } from './report.ts';
import { withTempDir } from './temp-dir.ts';
import { makeDocs, type BenchDoc } from './workload.ts';

const BATCH = 1000;

interface PouchReplicationResult {
  ok: boolean;
  docs_written: number;
  doc_write_failures: number;
}
type ReplicablePouch = PouchDatabase & { replicate: { to(target: string): Promise<PouchReplicationResult> } };

/** The target node pulls `source`'s `bench` database into its own with its replicator (defaults); docs/s. */
async function refugePull(label: string, source: ServerChild, target: ServerChild, n: number): Promise<number> {
  const cpu = cpuMeter([source, target]);
  const { ms } = await timed(() => nodePull(target.url, `${source.url}/bench`, 'bench', n));
  const cpuUse = cpu();
  await expectDocCount(label, `${target.url}/bench`, n);
  const rate = perSecond(n, ms);
  note(`${label}: ${n} docs in ${Math.round(ms)} ms, ${Math.round(rate)} docs/s; ${cpuUse}`);
  return rate;
}

async function refugeToRefuge(docs: readonly BenchDoc[]): Promise<number> {
  return withServer(() => startRefugeServer('refuge-source'), (source) =>
    withServer(() => startRefugeServer('refuge-target'), async (target) => {
      await createDb(`${source.url}/bench`);
      await fillDb(`${source.url}/bench`, docs, BATCH);
      return refugePull('refuge -> refuge', source, target, docs.length);
    }),
  );
}

/** pouchdb-node -> pouchdb-server; then, while that server still holds the docs, `after` runs. */
async function pouchToPouchServer(docs: readonly BenchDoc[], after: (server: ServerChild) => Promise<void>): Promise<number> {
  const n = docs.length;
  return withTempDir('http-pouch-local', (dir) =>
    withServer(startPouchServer, async (server) => {
      const local = new (loadPouchDB())(`${dir}/bench`) as ReplicablePouch;
      try {
        for (let i = 0; i < n; i += BATCH) await local.bulkDocs(docs.slice(i, i + BATCH));
        const target = `${server.url}/bench`;
        const cpu = cpuMeter([server]);
        const { ms, value: res } = await timed(() => local.replicate.to(target));
        const cpuUse = cpu();
        if (!res.ok || res.docs_written !== n || res.doc_write_failures !== 0) {
          throw new Error(`pouchdb-node -> pouchdb-server: ${JSON.stringify(res).slice(0, 300)}`);
        }
        await expectDocCount('pouchdb-server', target, n);
        const rate = perSecond(n, ms);
        note(`pouchdb-node -> pouchdb-server: ${n} docs in ${Math.round(ms)} ms, ${Math.round(rate)} docs/s; ${cpuUse} (pouchdb-node + replicator)`);
        await after(server);
        return rate;
      } finally {
        await local.close();
      }
    }),
  );
}

export async function runReplicate(wants: (name: string) => boolean, emit: Emit): Promise<void> {
  const n = envCount('BENCH_REPL_DOCS', 100_000);
  const docs = makeDocs(n);
  note(
    `replication: ${n} docs (~200 B), both replicators with their defaults (PouchDB: batches of 100, 10 in flight; ` +
      `Refuge: 500 as CouchDB, 4 in flight); PouchDB's pushes from its local database to a server, Refuge's target node ` +
      `pulls from a source server into its local database (POST /_replicate): one HTTP hop each`,
  );
  const refuge = wants('http.replicate') ? await refugeToRefuge(docs) : 0;
  let fromPouch = 0;
  const pouch = await pouchToPouchServer(docs, async (pouchServer) => {
    if (!wants('http.replicate_from_pouchdb_server')) return;
    fromPouch = await withServer(() => startRefugeServer('refuge-target'), (target) =>
      refugePull('pouchdb-server -> refuge', pouchServer, target, n),
    );
  });
  if (wants('http.replicate')) {
    emit({ bench: 'http.replicate', unit: 'docs/s', refuge, anchor: 'pouchdb-node->pouchdb-server', anchorValue: pouch });
  }
  if (wants('http.replicate_from_pouchdb_server')) {
    emit({ bench: 'http.replicate_from_pouchdb_server', unit: 'docs/s', refuge: fromPouch, anchor: 'pouchdb-node->pouchdb-server', anchorValue: pouch });
  }
}
