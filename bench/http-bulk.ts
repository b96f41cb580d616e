// http.bulk_docs: sequential _bulk_docs POSTs of 1,000 new ~200-byte docs over one keep-alive
// connection, into a fresh Refuge server and a fresh pouchdb-server (each a child process).
// Both servers first take an untimed warm-up fill of a database they then delete, as the GET
// figures warm up: a fresh Refuge server wrote 54k docs/s cold and 66k warm. The request bodies
// are serialized before the clock starts, as the docs benchmark makes its documents beforehand.

import { startPouchServer, startRefugeServer, withServer, type ServerChild } from './http-children.ts';
import { cpuMeter } from './http-cpu.ts';
import { createDb, deleteDb, expectBulkWritten, expectDocCount } from './http-fetch.ts';
import { keepAlivePoster, type Poster } from './http-post.ts';
import { envCount } from './http-size.ts';
import { note, perSecond, timed, type Emit } from './report.ts';
import { makeDocs, type BenchDoc } from './workload.ts';

const BATCH = 1000;
const WARMUP_DOCS = 10_000;

function bulkBodies(docs: readonly BenchDoc[]): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < docs.length; i += BATCH) bodies.push(JSON.stringify({ docs: docs.slice(i, i + BATCH) }));
  return bodies;
}

/** POSTs each body in turn to `db`'s _bulk_docs, checking that every document was written. */
async function postAll(poster: Poster, db: string, bodies: readonly string[], docs: number): Promise<void> {
  const path = `/${db}/_bulk_docs`;
  for (let i = 0; i < bodies.length; i++) {
    const { status, body } = await poster.post(path, bodies[i]!);
    expectBulkWritten(path, status, body, Math.min(BATCH, docs - i * BATCH));
  }
}

export async function runBulk(emit: Emit): Promise<void> {
  const n = envCount('BENCH_HTTP_DOCS', 50_000);
  const bodies = bulkBodies(makeDocs(n));
  const warmup = bulkBodies(makeDocs(WARMUP_DOCS, 7));
  const side = async (server: ServerChild): Promise<number> => {
    const poster = keepAlivePoster(server.url);
    try {
      await createDb(`${server.url}/warmup`);
      await postAll(poster, 'warmup', warmup, WARMUP_DOCS);
      await deleteDb(`${server.url}/warmup`);
      await createDb(`${server.url}/bench`);
      const cpu = cpuMeter([server]);
      const { ms } = await timed(() => postAll(poster, 'bench', bodies, n));
      const cpuUse = cpu();
      await expectDocCount(server.label, `${server.url}/bench`, n);
      const rate = perSecond(n, ms);
      note(`${server.label}: _bulk_docs ${n} docs in batches of ${BATCH} (after a ${WARMUP_DOCS}-doc warm-up): ${Math.round(ms)} ms, ${Math.round(rate)} docs/s; ${cpuUse}`);
      return rate;
    } finally {
      poster.close();
    }
  };
  const refuge = await withServer(() => startRefugeServer(), side);
  const pouch = await withServer(startPouchServer, side);
  emit({ bench: 'http.bulk_docs', unit: 'docs/s', refuge, anchor: 'pouchdb-server', anchorValue: pouch });
}
