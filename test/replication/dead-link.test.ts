// A link that dies silently under a continuous replication (no FIN, no RST: a cable pulled, a NAT
// that forgot the flow) is noticed within a few missed heartbeats of the long-poll, once the server
// has shown it sends them, instead of after the long-poll's wait plus the whole request timeout.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { startServer } from '../../src/http/index.ts';
import { openNode } from '../../src/node/index.ts';
import { HttpPeer, LocalPeer, Replication } from '../../src/replication/index.ts';
import { nextEvent } from './helpers/events.ts';
import { tcpProxy } from '../helpers/tcp-proxy.ts';

/** A TCP proxy that can go silent: once frozen, nothing passes either way and nothing is closed. */
async function freezableProxy(port: number) {
  let frozen = false;
  let longpolls = 0;
  let beatsInLongpoll = 0;
  /** The server side of the latest long-poll's connection: only its heartbeats count. */
  let current: Socket | undefined;
  const watchers = new Set<() => void>();
  const notify = () => watchers.forEach((w) => w());
  const proxy = await tcpProxy(port, (client, upstream) => {
    // A client that hangs up (a long-poll it gave up on) closes its side through the proxy too.
    client.on('close', () => upstream.destroy());
    client.on('data', (chunk: Buffer) => {
      if (frozen) return;
      if (/GET \/src\/_changes\?[^ ]*feed=longpoll/.test(chunk.toString('latin1'))) {
        longpolls++;
        beatsInLongpoll = 0;
        current = upstream;
      }
      upstream.write(chunk);
      notify();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (frozen) return;
      // A heartbeat is a one-byte chunk of the chunked body: "1\r\n\n\r\n".
      if (upstream === current && chunk.toString('latin1').includes('1\r\n\n\r\n')) beatsInLongpoll++;
      client.write(chunk);
      notify();
    });
  });
  return {
    port: proxy.port,
    freeze: () => void (frozen = true),
    /** Resolves once `test` holds of (long-polls seen, heartbeats in the latest one). */
    when: (check: (longpolls: number, beats: number) => boolean) =>
      new Promise<void>((resolve) => {
        const w = () => {
          if (!check(longpolls, beatsInLongpoll)) return;
          watchers.delete(w);
          resolve();
        };
        watchers.add(w);
        w();
      }),
    close: proxy.close,
  };
}

test('a continuous pull notices a silently dead link within a few missed heartbeats', { timeout: 30_000 }, async (t) => {
  const node = await openNode({ engine: 'memory' });
  const srv = await startServer({ node, port: 0, replicator: false });
  const proxy = await freezableProxy(Number(new URL(srv.url).port));
  const target = await openNode({ engine: 'memory' });
  t.after(async () => {
    await proxy.close();
    await srv.close();
    await node.close();
    await target.close();
  });
  await (await node.createDb('src')).put({ _id: 'a' });
  const local = await target.createDb('dst');
  // A 600 ms long-poll asks for a heartbeat every 200 ms; four missed beats are a dead link.
  const rep = new Replication(new HttpPeer(`http://127.0.0.1:${proxy.port}/src`), new LocalPeer(local), { continuous: true, longpollTimeoutMs: 600 });
  t.after(async () => {
    rep.cancel();
    await rep.done.catch(() => undefined);
  });
  await nextEvent(rep, 'paused', (e) => e.error === undefined);
  // The first long-poll's answer showed heartbeats; in the second, after its first beat, the link dies.
  await proxy.when((longpolls, beats) => longpolls >= 2 && beats >= 1);
  const retried = nextEvent(rep, 'retry');
  const frozenAt = performance.now();
  proxy.freeze();
  const { error } = await retried;
  const noticedMs = performance.now() - frozenAt;
  assert.match(error.reason, /no answer within 800 ms/);
  // Without heartbeats the same silence would last the long-poll plus the 60 s request timeout.
  assert.ok(noticedMs < 10_000, `noticed after ${Math.round(noticedMs)} ms`);
  assert.equal((await local.get('a'))._id, 'a');
});
