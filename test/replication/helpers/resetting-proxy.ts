// A TCP proxy on loopback that logs each request it carries and, once told, resets (TCP RST) the
// connection carrying a matching request after N bytes of its answer: a link dying mid-answer.

import { tcpProxy } from '../../helpers/tcp-proxy.ts';

export interface ProxiedRequest {
  method: string;
  url: string;
  /** Bytes of the answer passed on to the client, its head included. */
  answered: number;
  /** Bytes of the answer's head (status line and headers), once it has all passed. */
  head?: number;
  /** True when the proxy reset the connection during this request's answer or upload. */
  cut: boolean;
}

export interface CutRule {
  /** Which request to cut: the first one matching, once. */
  match: (method: string, url: string) => boolean;
  /** Reset after passing the answer's head and this many bytes of its body. */
  afterBodyBytes?: number;
  /** Or reset after passing this many bytes of the request's body upstream. */
  afterRequestBytes?: number;
  /** A cut armed once this one happened (before the client can notice it). */
  then?: CutRule;
}

export interface ResettingProxy {
  port: number;
  requests: ProxiedRequest[];
  /** Arms a cut; resolves once it has happened. */
  cut(rule: CutRule): Promise<ProxiedRequest>;
  close(): Promise<void>;
}

/** Request heads are parsed from the client's bytes (bodies skipped by Content-Length or chunked end). */
class RequestReader {
  private pending = Buffer.alloc(0);
  private bodyLeft = 0;
  private chunked = false;
  constructor(private readonly onHead: (method: string, url: string) => void, private readonly onBody: (n: number) => void) {}

  feed(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, this.pending.length);
        this.bodyLeft -= n;
        this.pending = this.pending.subarray(n);
        if (n > 0) this.onBody(n);
        if (this.bodyLeft > 0) return;
      }
      if (this.chunked) {
        // Crude but enough for clients here: the body ends at the last-chunk marker.
        const end = this.pending.indexOf('\r\n0\r\n\r\n');
        if (end < 0) return;
        this.onBody(end + 7);
        this.pending = this.pending.subarray(end + 7);
        this.chunked = false;
      }
      const headEnd = this.pending.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = this.pending.subarray(0, headEnd).toString('latin1');
      this.pending = this.pending.subarray(headEnd + 4);
      const [line = '', ...fields] = head.split('\r\n');
      const [method = '', url = ''] = line.split(' ');
      const header = (name: string) => fields.find((f) => f.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      this.bodyLeft = Number(header('content-length') ?? 0);
      this.chunked = header('transfer-encoding')?.toLowerCase() === 'chunked';
      this.onHead(method, url);
    }
  }
}

export async function resettingProxy(port: number): Promise<ResettingProxy> {
  const requests: ProxiedRequest[] = [];
  let armed: { rule: CutRule; done: (r: ProxiedRequest) => void } | undefined;

  const proxy = await tcpProxy(port, (client, upstream) => {
    // The request whose answer is flowing: a client sends the next one after the answer (no pipelining).
    let current: ProxiedRequest | undefined;
    let target: { rule: CutRule; done: (r: ProxiedRequest) => void; sent: number } | undefined;
    // Once a cut is decided nothing more passes either way, while the kept bytes drain.
    let cutting = false;
    const reset = () => {
      current!.cut = true;
      const t = target!;
      target = undefined;
      client.resetAndDestroy();
      upstream.destroy();
      t.done(current!);
    };
    const reader = new RequestReader(
      (method, url) => {
        current = { method, url, answered: 0, cut: false };
        requests.push(current);
        if (armed && armed.rule.match(method, url)) {
          target = { ...armed, sent: 0 };
          armed = undefined;
        }
      },
      (n) => {
        if (target?.rule.afterRequestBytes === undefined) return;
        target.sent += n;
      },
    );
    client.on('data', (chunk: Buffer) => {
      if (cutting) return;
      reader.feed(chunk);
      const limit = target?.rule.afterRequestBytes;
      if (limit !== undefined && target!.sent >= limit) {
        // Pass on only what fits under the limit: the server sees a body cut short.
        cutting = true;
        upstream.write(chunk.subarray(0, Math.max(0, chunk.length - (target!.sent - limit))), reset);
        return;
      }
      upstream.write(chunk);
    });
    let headText = '';
    upstream.on('data', (chunk: Buffer) => {
      if (cutting) return;
      if (current && current.head === undefined) {
        headText = current.answered === 0 ? '' : headText;
        headText += chunk.toString('latin1');
        const end = headText.indexOf('\r\n\r\n');
        if (end >= 0) current.head = end + 4;
      }
      const bodyBytes = target?.rule.afterBodyBytes;
      const limit = current?.head === undefined || bodyBytes === undefined ? undefined : current.head + bodyBytes;
      if (current && limit !== undefined && current.answered + chunk.length >= limit) {
        const keep = limit - current.answered;
        current.answered = limit;
        cutting = true;
        client.write(chunk.subarray(0, keep), reset);
        return;
      }
      if (current) current.answered += chunk.length;
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return {
    port: proxy.port,
    requests,
    cut: (rule) =>
      new Promise((done) => {
        armed = { rule, done: (r) => (rule.then ? (armed = { rule: rule.then, done: () => undefined }) : undefined, done(r)) };
      }),
    close: proxy.close,
  };
}
