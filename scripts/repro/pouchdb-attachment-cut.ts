// Reproduces a PouchDB 9 (Node) hang, not a Refuge fault: an attachment GET whose answer the link
// resets after its head leaves PouchDB's replication waiting forever. Run: node --import tsx <this>.
//
// Why: node-fetch 2 (pouchdb-node's fetch) pipes the IncomingMessage into a PassThrough
// (node-fetch/lib/index.js, `res.pipe(new PassThrough$1())`); when the socket ends before
// Content-Length bytes came, Node destroys the message without an 'error' (none is listened to)
// and the pipe never ends the PassThrough, so `response.buffer()` in the http adapter's
// getAttachment never settles. Only chunked answers are caught (fixResponseChunkedTransferBadEnding).
// CouchDB sends attachments with a Content-Length too, so PouchDB hangs the same way against it.

import { startTestServer } from '../../test/http/server.ts';
import { localPouch, PouchDB } from '../../test/http/pouchdb.ts';
import { resettingProxy } from '../../test/replication/helpers/resetting-proxy.ts';

const server = await startTestServer();
const proxy = await resettingProxy(Number(new URL(server.url).port));
const { Local, cleanup } = await localPouch();
const direct = new PouchDB(`${server.url}/db`);
for (let i = 0; i < 3; i++) {
  const data = Buffer.alloc(300_000, i + 1).toString('base64');
  await direct.put({ _id: `d${i}`, _attachments: { 'a.bin': { content_type: 'application/octet-stream', data } } });
}
const local = new Local('local');
const proxied = new PouchDB(`http://127.0.0.1:${proxy.port}/db`);

async function run(label: string, ms: number): Promise<string> {
  const rep = local.replicate.from(proxied, { retry: true, back_off_function: () => 20 });
  for (const ev of ['active', 'paused', 'change', 'error']) rep.on(ev, (x: any) => console.log(`  [${label}] ${ev}`, x?.message ?? ''));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      resolve(`no end, no error after ${ms} ms`);
      rep.cancel();
    }, ms);
    rep.on('complete', (r: any) => (clearTimeout(timer), resolve(`complete, ${r.docs_written} docs written`)));
    rep.on('error', (e: any) => (clearTimeout(timer), resolve(`error ${e.message}`)));
  });
}

const cut = proxy.cut({ match: (m, url) => m === 'GET' && url.includes('/a.bin?'), afterBodyBytes: 1000 });
console.log('1. pull with retry while the first attachment GET is reset 1000 bytes into its body:');
console.log('  ->', await run('cut', 5000));
const c = await cut;
console.log(`  cut: ${c.method} ${c.url} after ${c.answered} bytes`);
console.log('2. the same pull again, no cut (the server is fine; only the first client request is stuck):');
console.log('  ->', await run('again', 5000));
console.log('  docs locally:', (await local.allDocs()).rows.length);
console.log('requests through the proxy:');
for (const r of proxy.requests) console.log(`  ${r.method} ${r.url} ${r.answered}${r.cut ? ' CUT' : ''}`);
await local.close();
await proxy.close();
await server.close();
await cleanup();
process.exit(0);
