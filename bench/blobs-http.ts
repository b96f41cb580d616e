// blobs.http_get: GET of a 64 MiB blob over loopback from a Refuge node (fs blob store, the whole
// read verified against its id) in a child process, in MB/s, against bare node:http + createReadStream.

import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { spawnScript, startRefugeServer, withServer } from './http-children.ts';
import { note, type Suite } from './report.ts';
import { withTempDir } from './temp-dir.ts';

const SIZE = 64 * 1024 * 1024;
const WARMUP = 3;
const ROUNDS = 15;

/** One GET, bytes counted and dropped (the client does no hashing: the server is measured). */
function getOnce(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * MB/s of each URL: the median of ROUNDS GETs after WARMUP, the URLs taken in turn (A, B, A, B…) so
 * a change in the machine's load while the bench runs weighs on both sides alike.
 */
async function measureInTurn(urls: readonly string[]): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) for (const url of urls) await getOnce(url);
  const times = urls.map((): number[] => []);
  for (let i = 0; i < ROUNDS; i++) {
    for (const [k, url] of urls.entries()) {
      const start = performance.now();
      const n = await getOnce(url);
      times[k]!.push(performance.now() - start);
      if (n !== SIZE) throw new Error(`GET ${url} returned ${n} bytes, not ${SIZE}`);
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return SIZE / 1e6 / (t[Math.floor(t.length / 2)]! / 1000);
  });
}

function putFile(url: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method: 'PUT', agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 || res.statusCode === 200 ? resolve() : reject(new Error(`PUT: ${res.statusCode}`))));
    });
    r.on('error', reject);
    createReadStream(file).pipe(r);
  });
}

export const blobsHttpSuite: Suite = {
  figures: ['blobs.http_get'],

  async run(_wants, emit) {
    note(
      `blobs.http_get: ${SIZE / 1024 / 1024} MiB, ${ROUNDS} GETs of each server in turn after ${WARMUP} warm-ups, median; both servers in ` +
        `child processes, the client here; Refuge reads from its fs blob store and verifies the SHA-256 as it sends.`,
    );
    await withTempDir('blobs-http', async (dir) => {
      const file = join(dir, 'blob.bin');
      const bytes = randomFillSync(Buffer.alloc(SIZE));
      const id = `sha256-${createHash('sha256').update(bytes).digest('hex')}`;
      await writeFile(file, bytes);
      const [refuge, bare] = await withServer(
        () => startRefugeServer('refuge-blobs'),
        async (refugeServer) => {
          await putFile(`${refugeServer.url}/_blobs/${id}`, file);
          return withServer(
            () => spawnScript('bare-file', 'blobs-http-file-server.ts', [], [file]),
            (bareServer) => measureInTurn([`${refugeServer.url}/_blobs/${id}`, `${bareServer.url}/blob.bin`]),
          );
        },
      );
      emit({ bench: 'blobs.http_get', unit: 'MB/s', refuge: refuge!, anchor: 'node:http + fs.createReadStream', anchorValue: bare! });
    });
  },
};
