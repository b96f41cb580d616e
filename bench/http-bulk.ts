// http.bulk_docs: sequential _bulk_docs POSTs of 1,000 new ~200-byte docs over one keep-alive fetch
// client, into a fresh Refuge server and a fresh pouchdb-server (each a child process).

import { startPouchServer, startRefugeServer, withServer, type ServerChild } from './http-children.ts';
import { cpuMeter } from './http-cpu.ts';
import { createDb, expectDocCount, fillDb } from './http-fetch.ts';
import { envCount } from './http-size.ts';
import { note, perSecond, timed, type Emit } from './report.ts';
import { makeDocs } from './workload.ts';

const BATCH = 1000;

export async function runBulk(emit: Emit): Promise<void> {
  const n = envCount('BENCH_HTTP_DOCS', 50_000);
  const docs = makeDocs(n);
  const side = async (server: ServerChild): Promise<number> => {
    const db = `${server.url}/bench`;
    await createDb(db);
    const cpu = cpuMeter([server]);
    const { ms } = await timed(() => fillDb(db, docs, BATCH));
    const cpuUse = cpu();
    await expectDocCount(server.label, db, n);
    const rate = perSecond(n, ms);
    note(`${server.label}: _bulk_docs ${n} docs in batches of ${BATCH}: ${Math.round(ms)} ms, ${Math.round(rate)} docs/s; ${cpuUse}`);
    return rate;
  };
  const refuge = await withServer(() => startRefugeServer(), side);
  const pouch = await withServer(startPouchServer, side);
  emit({ bench: 'http.bulk_docs', unit: 'docs/s', refuge, anchor: 'pouchdb-server', anchorValue: pouch });
}
