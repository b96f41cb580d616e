// `/refuge/hub/1.0.0`: peers register their addresses with a hub and look other peers up there, so
// two nodes that know only each other's ids (and a hub) can meet, directly or through its relay.

import '#mesh/node20-shim';
import type { Connection, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { RefugeError } from '../errors/index.ts';
import type { HubRegistry } from './hub-registry.ts';
import { isPeerId } from './identity.ts';
import type { StreamOpener } from './mesh-peer.ts';
import { answerError, errorAnswer, frames, type Answer } from './wire.ts';

export const HUB_PROTOCOL = '/refuge/hub/1.0.0';
const MAX_FRAME = 64 * 1024;
const REQUEST_WAIT_MS = 10_000;

export type HubRequest = { op: 'register'; peerId: string; addrs: string[] } | { op: 'lookup'; peerId: string };
export interface HubRegistered {
  ttlMs: number;
}
export interface HubLookup {
  peerId: string;
  addrs: string[];
}

export interface HubServiceOptions {
  registry: HubRegistry;
  /** Asked when a looked-up peer is not registered here (the hub's DHT): the hub forwards lookups. */
  forward?: (peerId: string, signal: AbortSignal) => Promise<string[]>;
}

const bad = (reason: string) => new RefugeError('bad_request', reason);

function validAddrs(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > 64) throw bad('addrs must be a list of at most 64 multiaddrs');
  return value.map((a) => {
    if (typeof a !== 'string' || a.length > 512) throw bad('an address must be a multiaddr string');
    try {
      return multiaddr(a).toString();
    } catch {
      throw bad(`not a multiaddr: ${a.slice(0, 80)}`);
    }
  });
}

/** The hub's side: answers one request per stream. */
export function hubHandler(options: HubServiceOptions): (stream: Stream, connection: Connection) => Promise<void> {
  const answerOne = async (from: string, request: unknown, signal: AbortSignal): Promise<unknown> => {
    if (request === null || typeof request !== 'object') throw bad('a hub request is an object');
    const req = request as Record<string, unknown>;
    if (!isPeerId(req.peerId)) throw bad('peerId must be a peer id');
    if (req.op === 'register') {
      // Only a peer itself may say where it is: the transport authenticated `from`.
      if (req.peerId !== from) throw new RefugeError('forbidden', 'a peer registers only its own addresses');
      const entry = options.registry.register(from, validAddrs(req.addrs));
      if (entry === undefined) throw new RefugeError('unavailable', 'this hub is full');
      return { ttlMs: options.registry.ttlMs } satisfies HubRegistered;
    }
    if (req.op === 'lookup') {
      const found = options.registry.lookup(req.peerId);
      if (found) return { peerId: found.peerId, addrs: found.addrs } satisfies HubLookup;
      const addrs = options.forward ? await options.forward(req.peerId, signal).catch(() => []) : [];
      if (addrs.length > 0) return { peerId: req.peerId, addrs } satisfies HubLookup;
      throw new RefugeError('not_found', `peer ${req.peerId} is not known to this hub`);
    }
    throw bad(`unknown hub operation ${JSON.stringify(req.op)}`);
  };
  return async (stream, connection) => {
    const io = frames(stream, MAX_FRAME);
    const signal = AbortSignal.timeout(REQUEST_WAIT_MS);
    let answer: Answer;
    try {
      answer = { ok: true, result: await answerOne(connection.remotePeer.toString(), await io.read(signal), signal) };
    } catch (err) {
      answer = errorAnswer(err);
    }
    try {
      await io.write(answer, signal);
      await stream.close();
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };
}

async function hubRequest(mesh: StreamOpener, hub: string, request: HubRequest, signal?: AbortSignal): Promise<unknown> {
  const wait = AbortSignal.any([AbortSignal.timeout(REQUEST_WAIT_MS), ...(signal ? [signal] : [])]);
  let stream: Stream;
  try {
    stream = await mesh.openStream(hub, HUB_PROTOCOL, wait);
  } catch (err) {
    throw new RefugeError('unavailable', `cannot reach hub ${hub}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  try {
    const io = frames(stream, MAX_FRAME);
    await io.write(request, wait);
    const answer = (await io.read(wait)) as { ok?: unknown; result?: unknown; error?: unknown; reason?: unknown } | null;
    if (answer === null || typeof answer !== 'object') throw new RefugeError('unavailable', `hub ${hub} answered garbage`);
    if (answer.ok !== true) throw answerError(answer);
    await stream.close().catch(() => undefined);
    return answer.result;
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
}

/** Tells a hub where this node is; answers how long the registration lasts. */
export async function hubRegister(mesh: StreamOpener, hub: string, self: string, addrs: string[], signal?: AbortSignal): Promise<HubRegistered> {
  const result = (await hubRequest(mesh, hub, { op: 'register', peerId: self, addrs }, signal)) as HubRegistered;
  return { ttlMs: typeof result?.ttlMs === 'number' && result.ttlMs > 0 ? result.ttlMs : 60_000 };
}

/** A peer's addresses as a hub knows them (empty when it does not). */
export async function hubLookup(mesh: StreamOpener, hub: string, peerId: string, signal?: AbortSignal): Promise<string[]> {
  try {
    const result = (await hubRequest(mesh, hub, { op: 'lookup', peerId }, signal)) as HubLookup;
    return Array.isArray(result?.addrs) ? validAddrs(result.addrs) : [];
  } catch (err) {
    if (err instanceof RefugeError && err.code === 'not_found') return [];
    throw err;
  }
}
