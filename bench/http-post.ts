// A lean keep-alive POST client on node:http for timed request loops. The bench process's own cost
// is timed with the server's when requests go one at a time: during a 50k-doc _bulk_docs fill,
// undici's fetch took 18-24% of a core (21-29% with each body serialized in the loop), this 12-14%.

import http from 'node:http';

export interface Poster {
  /** POSTs `body` (JSON) to `path` and answers the status and the parsed response. */
  post(path: string, body: string): Promise<{ status: number; body: unknown }>;
  close(): void;
}

/** One keep-alive connection to `baseUrl` (an `http://host:port` root), reused by every post. */
export function keepAlivePoster(baseUrl: string): Poster {
  const { hostname, port } = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    post: (path, body) =>
      new Promise((resolve, reject) => {
        const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
        const req = http.request({ agent, hostname, port, path, method: 'POST', headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
            } catch (err) {
              reject(new Error(`POST ${path}: ${res.statusCode} answered invalid JSON: ${text.slice(0, 200)}`, { cause: err }));
            }
          });
        });
        req.on('error', reject);
        req.end(body);
      }),
    close: () => agent.destroy(),
  };
}
