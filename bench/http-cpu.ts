// CPU use of each process taking part in a timed phase (server children and this bench process),
// as a share of one core, to tell a CPU-bound figure from one waiting on round trips.

import type { ServerChild } from './http-children.ts';

/** Starts measuring now; the returned function describes the CPU used since, per process. */
export function cpuMeter(servers: readonly ServerChild[]): () => string {
  const wallStart = performance.now();
  const serverStart = servers.map((s) => s.cpuSeconds());
  const selfStart = process.cpuUsage();
  return () => {
    const wall = (performance.now() - wallStart) / 1000;
    const pct = (seconds: number): string => `${Math.round((seconds / wall) * 100)}%`;
    const self = process.cpuUsage(selfStart);
    const parts = servers.map((s, i) => `${s.label} ${pct(s.cpuSeconds() - serverStart[i]!)}`);
    parts.push(`bench process ${pct((self.user + self.system) / 1e6)}`);
    return `CPU ${parts.join(', ')}`;
  };
}
