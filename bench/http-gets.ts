// http.get_doc and http.get_doc_vs_bare: random GETs of existing docs from a 10,000-doc database,
// Refuge against pouchdb-server and against a bare node:http server, each in its own child.

import { startBareServer, startPouchServer, startRefugeServer, withServer, type ServerChild } from './http-children.ts';
import { createDb, expectDocCount, fillDb } from './http-fetch.ts';
import { measureGets } from './http-load.ts';
import type { Emit } from './report.ts';
import { docId, makeDocs, randomIndices } from './workload.ts';

const DOCS = 10_000;
const PATHS = 50_000;

export async function runGets(wants: (name: string) => boolean, emit: Emit): Promise<void> {
  const docs = makeDocs(DOCS);
  const paths = randomIndices(PATHS, DOCS, 5).map((i) => `/bench/${docId(i)}`);
  const filled = async (server: ServerChild): Promise<number> => {
    await createDb(`${server.url}/bench`);
    await fillDb(`${server.url}/bench`, docs);
    await expectDocCount(server.label, `${server.url}/bench`, DOCS);
    return measureGets(server, paths);
  };
  const refuge = await withServer(() => startRefugeServer(), filled);
  if (wants('http.get_doc')) {
    const pouch = await withServer(startPouchServer, filled);
    emit({ bench: 'http.get_doc', unit: 'req/s', refuge, anchor: 'pouchdb-server', anchorValue: pouch });
  }
  if (wants('http.get_doc_vs_bare')) {
    const bare = await withServer(startBareServer, (server) => measureGets(server, paths));
    emit({ bench: 'http.get_doc_vs_bare', unit: 'req/s', refuge, anchor: 'node:http', anchorValue: bare });
  }
}
