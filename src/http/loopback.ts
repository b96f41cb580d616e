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
 * browsers resolve to loopback themselves), 127/8 or [::1], with any port. A missing Host (HTTP/1.0
 * tools) names nothing else, so it passes.
 */
export function isLoopbackHostHeader(header: string | undefined): boolean {
  if (header === undefined || header === '') return true;
  const h = header.toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']')) : h.replace(/:\d*$/, '');
  if (h.startsWith('[') && !/^\[[^\]]*\](:\d*)?$/.test(h)) return false;
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || (isIPv4(name) && name.startsWith('127.'));
}
