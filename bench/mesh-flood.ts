// mesh.flood: one query flooded through a 50-node simulated mesh (QueryRouter over an in-memory FIFO
// transport, real Ed25519 signatures, JSON copies as on the wire): messages per query, time to last result.

import { MAX_TTL, peerIdOf, QueryRouter, type QueryMessage } from '../src/mesh/index.ts';
import { generateNodeKey, signBytes } from '../src/refs/keys.ts';
import { median, note, type Emit } from './report.ts';
import { prng } from './workload.ts';

const NODES = 50;
const CHORDS = 25;
const QUERIES = 20;

interface Sim {
  ids: string[];
  neighbours: Map<string, string[]>;
  routers: Map<string, QueryRouter>;
  sent(): number;
  settled(): Promise<void>;
}

/** A ring (so every node is reachable) plus seeded random chords. */
function simMesh(n: number, chords: number): Sim {
  const rand = prng(7);
  const ids: string[] = [];
  const neighbours = new Map<string, string[]>();
  const routers = new Map<string, QueryRouter>();
  const queue: Array<() => void> = [];
  let sent = 0;
  let draining = false;
  const drain = (): void => {
    draining = false;
    for (let i = 0; i < 1000 && queue.length > 0; i++) queue.shift()!();
    if (queue.length > 0) schedule();
  };
  const schedule = (): void => {
    if (draining) return;
    draining = true;
    setImmediate(drain);
  };
  for (let i = 0; i < n; i++) {
    const key = generateNodeKey();
    const id = peerIdOf(key.publicKey);
    ids.push(id);
    neighbours.set(id, []);
    routers.set(id, new QueryRouter({
      self: id,
      sign: (bytes) => signBytes(key, bytes),
      peers: () => neighbours.get(id)!,
      send: (to: string, message: QueryMessage) => {
        sent++;
        const copy = JSON.parse(JSON.stringify(message)) as unknown;
        queue.push(() => routers.get(to)!.receive(id, copy));
        schedule();
      },
      answer: async () => [{ db: 'sim', docs: [{ _id: id }] }],
    }));
  }
  const link = (a: string, b: string): void => {
    if (a === b || neighbours.get(a)!.includes(b)) return;
    neighbours.get(a)!.push(b);
    neighbours.get(b)!.push(a);
  };
  for (let i = 0; i < n; i++) link(ids[i]!, ids[(i + 1) % n]!);
  for (let c = 0; c < chords; c++) link(ids[Math.floor(rand() * n)]!, ids[Math.floor(rand() * n)]!);
  const settled = async (): Promise<void> => {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (queue.length === 0 && !draining && [...routers.values()].every((r) => r.activeAnswers === 0)) return;
    }
  };
  return { ids, neighbours, routers, sent: () => sent, settled };
}

/** Nodes within `ttl` hops of `origin`, itself excluded. */
function reach(sim: Sim, origin: string, ttl: number): number {
  const dist = new Map([[origin, 0]]);
  const todo = [origin];
  while (todo.length > 0) {
    const x = todo.shift()!;
    for (const y of sim.neighbours.get(x)!) if (!dist.has(y)) dist.set(y, dist.get(x)! + 1) && todo.push(y);
  }
  return [...dist.values()].filter((d) => d > 0 && d <= ttl).length;
}

/**
 * The same flood without a seen-cache: every copy is answered and forwarded (never back to the
 * sender or the origin) until the TTL; each answer travels back as many hops as its copy came.
 */
function naiveMessages(sim: Sim, origin: string, ttl: number): number {
  let edges = new Map<string, number>(sim.neighbours.get(origin)!.map((to) => [`${origin}>${to}`, 1]));
  let total = 0;
  for (let hop = 1; hop <= ttl; hop++) {
    const next = new Map<string, number>();
    for (const [edge, count] of edges) {
      total += count * (1 + hop); // the query copy, and its answer routed back hop by hop
      if (hop === ttl) continue;
      const [from, at] = edge.split('>') as [string, string];
      for (const to of sim.neighbours.get(at)!) {
        if (to !== from && to !== origin) next.set(`${at}>${to}`, (next.get(`${at}>${to}`) ?? 0) + count);
      }
    }
    edges = next;
  }
  return total;
}

const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;

export async function runFlood(emit: Emit): Promise<void> {
  const sim = simMesh(NODES, CHORDS);
  const ttl = MAX_TTL;
  const messages: number[] = [];
  const lastResult: number[] = [];
  const reachedBy: number[] = [];
  for (let q = 0; q < QUERIES; q++) {
    const asker = sim.ids[(q * 7) % NODES]!;
    const reached = reach(sim, asker, ttl);
    reachedBy.push(reached);
    const before = sim.sent();
    const start = performance.now();
    // The limit is the number of nodes in reach, one document each: the stream ends at the last result.
    const results = await sim.routers.get(asker)!.ask({ kind: 'find', selector: {}, db: '*' }, { ttl, limit: reached, timeoutMs: 30_000 }).all();
    lastResult.push(performance.now() - start);
    await sim.settled();
    if (results.length !== reached) throw new Error(`query ${q}: ${results.length} results from ${reached} nodes in reach`);
    messages.push(sim.sent() - before);
    if (q === 0) note(`mesh.flood: ${NODES} nodes, ${NODES + CHORDS} links at most, ttl ${ttl}: ${reached} nodes reached, naive flood ${naiveMessages(sim, asker, ttl)} messages`);
  }
  for (const r of sim.routers.values()) r.close();
  const naives = Array.from({ length: QUERIES }, (_, q) => naiveMessages(sim, sim.ids[(q * 7) % NODES]!, ttl));
  const ms = median(lastResult);
  note(`mesh.flood: ${QUERIES} queries from different askers; messages median ${median(messages)}, time to last result p50 ${ms.toFixed(1)} ms, p99 ${p99(lastResult).toFixed(1)} ms`);
  emit({
    bench: 'mesh.flood',
    unit: `messages/query (queries + results; time to last result p50 ${ms.toFixed(1)} ms, p99 ${p99(lastResult).toFixed(1)} ms; median ${median(reachedBy)} of ${NODES - 1} nodes reached, ttl ${ttl})`,
    refuge: median(messages),
    anchor: 'naive flood without seen-cache',
    anchorValue: median(naives),
    higherIsBetter: false,
  });
}
