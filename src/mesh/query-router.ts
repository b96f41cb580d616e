// The transport-agnostic core of flooded queries: verifies, de-duplicates, answers once, forwards
// within the hop limit, and routes results back along the reverse path. libp2p or memory carries it.

import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { peerIdFromString } from '@libp2p/peer-id';
import { RefugeError } from '../errors/index.ts';
import { verifyBytes } from '../refs/keys.ts';
import {
  DEFAULT_QUERY_LIMIT,
  DEFAULT_QUERY_MS,
  DEFAULT_TTL,
  MAX_QUERY_LIMIT,
  MAX_QUERY_MS,
  MAX_TTL,
  checkMessage,
  checkQuestion,
  resultWeight,
  resultBytes,
  signedBytes,
  type QueryMessage,
  type QueryResult,
  type SignedQuery,
} from './query-protocol.ts';
import { QueryStream } from './query-stream.ts';
import { SeenCache } from './seen-cache.ts';

export type LocalAnswer = Omit<QueryResult, 'peer'>;

export interface QueryRouterOptions {
  /** This node's peer id. */
  self: string;
  /** Signs this node's own queries with its node key (Ed25519). */
  sign(bytes: Uint8Array): Uint8Array;
  /** Checks a peer's signature (a query's origin, a result's answerer); default: Ed25519 with the key inside its peer id. */
  verify?(origin: string, bytes: Uint8Array, sig: Uint8Array): boolean;
  /** The neighbours queries go to. */
  peers(): readonly string[];
  /** Hands a message to a neighbour; delivery failures are the transport's to absorb. */
  send(peer: string, message: QueryMessage): void;
  /** This node's answers for the query's origin (reached through neighbour `from`), grants applied; default none. */
  answer?(query: SignedQuery, from: string, signal: AbortSignal): Promise<LocalAnswer[]>;
  now?: () => number;
  /** Seen-cache bound (default 10,000 queries). */
  maxSeen?: number;
}

export interface AskOptions {
  /** Hop limit, 1..8 (default 3): nodes at most this many hops away answer. */
  ttl?: number;
  /** Documents (or blob holders) wanted in all, default 100. */
  limit?: number;
  /** How long to collect answers, default 3 s, at most 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Route {
  /** Where results go: the neighbour the query came from, or null for this node's own queries. */
  upstream: string | null;
  /** Fewest hops this query arrived with: a copy that came a shorter way is forwarded again. */
  hops: number;
  relayed: number;
  limit: number;
}

export interface QueryStats {
  received: number;
  duplicates: number;
  rejected: number;
  answered: number;
  forwarded: number;
  relayed: number;
}

function randomId(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}

function ed25519Verify(origin: string, bytes: Uint8Array, sig: Uint8Array): boolean {
  try {
    const key = peerIdFromString(origin).publicKey;
    return key?.type === 'Ed25519' && verifyBytes(key.raw, bytes, sig);
  } catch {
    return false;
  }
}

export class QueryRouter {
  readonly stats: QueryStats = { received: 0, duplicates: 0, rejected: 0, answered: 0, forwarded: 0, relayed: 0 };
  private readonly seen: SeenCache<Route>;
  private readonly asks = new Map<string, QueryStream>();
  private readonly stopping = new AbortController();
  private readonly now: () => number;
  private answering = 0;

  constructor(private readonly options: QueryRouterOptions) {
    this.now = options.now ?? Date.now;
    this.seen = new SeenCache(options.maxSeen ?? 10_000, this.now);
  }

  /** Answers being computed right now (the simulation waits for none before it judges). */
  get activeAnswers(): number {
    return this.answering;
  }

  /** Floods a question to the neighbours; results stream in until the deadline or the limit. */
  ask(question: unknown, options: AskOptions = {}): QueryStream {
    if (this.stopping.signal.aborted) throw new RefugeError('closed', 'the mesh node is stopped');
    const ttl = options.ttl ?? DEFAULT_TTL;
    const limit = options.limit ?? DEFAULT_QUERY_LIMIT;
    const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_MS;
    if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TTL) throw new RefugeError('bad_request', `ttl must be 1..${MAX_TTL}`);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) throw new RefugeError('bad_request', `limit must be 1..${MAX_QUERY_LIMIT}`);
    if (!(timeoutMs > 0 && timeoutMs <= MAX_QUERY_MS)) throw new RefugeError('bad_request', `timeout must be 1..${MAX_QUERY_MS} ms`);
    const checked = checkQuestion(question);
    // Asked with a signal aborted already (a client gone before its question left): an ended
    // stream, and nothing signed, remembered, registered or sent.
    if (options.signal?.aborted) return new QueryStream(randomId(), limit, timeoutMs, options.signal, () => undefined);
    const body = { v: 1 as const, id: randomId(), origin: this.options.self, question: checked, ttl, limit, deadline: Math.ceil(this.now() + timeoutMs) };
    const query: SignedQuery = { ...body, sig: bytesToHex(this.options.sign(signedBytes(body))) };
    this.seen.set(query.id, { upstream: null, hops: 0, relayed: 0, limit }, query.deadline);
    const stream = new QueryStream(query.id, limit, timeoutMs, options.signal, () => this.asks.delete(query.id));
    this.asks.set(query.id, stream);
    const neighbours = this.options.peers();
    stream.neighbours = neighbours.length;
    for (const peer of neighbours) this.send(peer, { type: 'query', query, hops: 1 });
    return stream;
  }

  /**
   * Takes a message from neighbour `from` (authenticated by the transport). `forward: false` answers
   * a query without passing it on (the transport's policy for untrusted neighbours).
   */
  receive(from: string, raw: unknown, options: { forward?: boolean } = {}): void {
    if (this.stopping.signal.aborted) return;
    let message: QueryMessage;
    try {
      message = checkMessage(raw);
    } catch {
      this.stats.rejected++;
      return;
    }
    if (message.type === 'result') return this.route(message);
    const { query, hops } = message;
    this.stats.received++;
    if (query.deadline <= this.now()) return;
    const known = this.seen.get(query.id);
    if (known !== undefined) {
      this.stats.duplicates++;
      // Arrival order is not distance order: a copy that came a shorter way may reach further.
      if (known.upstream !== null && hops < known.hops && options.forward !== false) {
        known.hops = hops;
        this.forward(query, hops, from);
      }
      return;
    }
    // Verified before it enters the cache, so a forged copy cannot block the genuine query.
    const verify = this.options.verify ?? ed25519Verify;
    let sig: Uint8Array;
    try {
      sig = hexToBytes(query.sig);
    } catch {
      sig = new Uint8Array();
    }
    if (query.origin === this.options.self || !verify(query.origin, signedBytes(query), sig)) {
      this.stats.rejected++;
      return;
    }
    this.seen.set(query.id, { upstream: from, hops, relayed: 0, limit: query.limit }, Math.min(query.deadline, this.now() + MAX_QUERY_MS));
    if (options.forward !== false) this.forward(query, hops, from);
    void this.answerOnce(query, from);
  }

  /** Ends the asker's streams and stops answering; late messages are ignored. */
  close(): void {
    this.stopping.abort(new RefugeError('closed', 'the mesh node is stopped'));
    for (const s of [...this.asks.values()]) s.end();
    this.seen.clear();
  }

  private forward(query: SignedQuery, hops: number, from: string): void {
    if (hops >= query.ttl) return;
    for (const peer of this.options.peers()) {
      if (peer === from || peer === query.origin) continue;
      this.stats.forwarded++;
      this.send(peer, { type: 'query', query, hops: hops + 1 });
    }
  }

  private async answerOnce(query: SignedQuery, from: string): Promise<void> {
    if (!this.options.answer) return;
    this.answering++;
    try {
      const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(Math.max(0, query.deadline - this.now()))]);
      const answers = await this.options.answer(query, from, signal);
      let left = query.limit;
      for (const a of answers) {
        if (left <= 0 || this.now() >= query.deadline || this.stopping.signal.aborted) break;
        const result: QueryResult = { ...a, peer: this.options.self };
        if (result.docs && result.docs.length > left) result.docs = result.docs.slice(0, left);
        if (result.docs?.length === 0) continue;
        left -= resultWeight(result);
        result.sig = bytesToHex(this.options.sign(resultBytes(query.id, result)));
        this.stats.answered++;
        this.send(from, { type: 'result', id: query.id, result });
      }
    } catch {
      // A failed evaluation (a database closing, the deadline) means no answer from here, nothing more.
    } finally {
      this.answering--;
    }
  }

  private route(message: Extract<QueryMessage, { type: 'result' }>): void {
    const route = this.seen.get(message.id);
    if (route === undefined) return;
    if (route.upstream === null) {
      // The asker believes only what its answerer signed (relays could otherwise make up answers).
      const { sig, ...result } = message.result;
      let bytes: Uint8Array;
      try {
        bytes = hexToBytes(sig ?? '');
      } catch {
        bytes = new Uint8Array();
      }
      if (!(this.options.verify ?? ed25519Verify)(result.peer, resultBytes(message.id, result), bytes)) {
        this.stats.rejected++;
        return;
      }
      this.asks.get(message.id)?.push(result);
      return;
    }
    // A relay passes on no more than the asker wants: a chatty (or hostile) branch cannot flood it.
    if (route.relayed >= route.limit) return;
    route.relayed += resultWeight(message.result);
    this.stats.relayed++;
    this.send(route.upstream, message);
  }

  private send(peer: string, message: QueryMessage): void {
    try {
      this.options.send(peer, message);
    } catch {
      /* the transport reports its own failures; one neighbour's trouble must not stop the flood */
    }
  }
}
