// What counts as this machine: the addresses a node without an admin may listen on, and the Host
// names it answers to then (a page elsewhere that rebinds its own name to 127.0.0.1 is refused).

import { isIPv4 } from 'node:net';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A loopback address or name to listen on: an IPv4 literal in 127/8 (a name like 127.example.com may resolve anywhere). */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || (isIPv4(host) && host.startsWith('127.'));
}

/**
 * Whether a request's Host header names this machine: localhost (or a name under .localhost, which
 * browsers resolve to loopback themselves), 127/8 or ::1 (an IPv4-mapped 127/8 too), with any port,
 * in any spelling a URL parser takes (`127.1`, a trailing dot, `[0:0:0:0:0:0:0:1]`). A missing Host
 * (HTTP/1.0 tools) names nothing else, so it passes.
 */
export function isLoopbackHostHeader(header: string | undefined): boolean {
  if (header === undefined || header === '') return true;
  // Every request asks: the few Host values a node sees are judged once (a URL parse each is not free).
  const known = judged.get(header);
  if (known !== undefined) return known;
  const answer = judge(header);
  if (judged.size >= JUDGED_MAX) judged.clear();
  judged.set(header, answer);
  return answer;
}

const judged = new Map<string, boolean>();
const JUDGED_MAX = 256;

function judge(header: string): boolean {
  let name: string;
  try {
    name = new URL(`http://${header}`).hostname;
  } catch {
    return false;
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name.startsWith('[')) {
    const v6 = name.slice(1, -1);
    return v6 === '::1' || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(v6);
  }
  return isIPv4(name) && name.startsWith('127.');
}
