// Load generation for the http suite: autocannon with 10 keep-alive connections for a fixed time,
// cycling a precomputed list of random paths (the same list for every server), after a warm-up.

import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';
import type { ServerChild } from './http-children.ts';
import { cpuMeter } from './http-cpu.ts';
import { note } from './report.ts';

const CONNECTIONS = 10;

function envSeconds(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name} must be a positive number of seconds, got ${raw}`);
  return n;
}

/** Seconds each measurement runs (BENCH_HTTP_SECONDS, default 10) and its untimed warm-up. */
export function loadSeconds(): { measure: number; warmup: number } {
  const measure = envSeconds('BENCH_HTTP_SECONDS', 10);
  return { measure, warmup: Math.min(3, Math.max(1, Math.round(measure / 4))) };
}

async function run(url: string, paths: readonly string[], seconds: number): Promise<AutocannonResult> {
  // Each connection starts its cycle of the list at a different offset so they do not move in step.
  let next = 0;
  const requests = [{
    method: 'GET',
    setupRequest: (req: AutocannonRequest) => {
      req.path = paths[next]!;
      next = next + 1 === paths.length ? 0 : next + 1;
      return req;
    },
  }];
  return autocannon({ url, connections: CONNECTIONS, duration: seconds, requests });
}

/**
 * Average requests/s of GETs over `paths`; throws when any request failed or was not a 2xx. Notes
 * the CPU use of both sides: autocannon near 100% means the figure is the load generator's ceiling.
 */
export async function measureGets(server: ServerChild, paths: readonly string[]): Promise<number> {
  const { measure, warmup } = loadSeconds();
  await run(server.url, paths, warmup);
  const cpu = cpuMeter([server]);
  const r = await run(server.url, paths, measure);
  const cpuUse = cpu();
  const bad = r.errors + r.timeouts + r.non2xx;
  if (bad > 0 || r['2xx'] === 0) {
    throw new Error(`${server.label}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx out of ${r.requests.total} requests`);
  }
  const rate = r.requests.total / (r.duration > 0 ? r.duration : measure);
  note(
    `${server.label}: ${Math.round(rate)} req/s over ${measure} s, latency p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms; ` +
      `${cpuUse} (autocannon)`,
  );
  return rate;
}
