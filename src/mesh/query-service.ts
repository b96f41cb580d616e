// Flooded queries over libp2p: the QueryRouter's messages on `/refuge/query/1.0.0`, one message per
// stream (length-prefixed JSON), forwarded to trusted connected peers only.

import '#mesh/node20-shim';
import type { Connection, Stream } from '@libp2p/interface';
import type { RefugeNode } from '../node/core.ts';
import { signBytes, type NodeKey } from '../refs/keys.ts';
import { isTrusted } from './grants.ts';
import type { StreamOpener } from './mesh-peer.ts';
import { localAnswerer } from './query-answer.ts';
import { MAX_QUERY_MESSAGE_BYTES, QUERY_PROTOCOL, type QueryMessage } from './query-protocol.ts';
import { QueryRouter, type AskOptions } from './query-router.ts';
import type { QueryStream } from './query-stream.ts';
import type { TrustStore } from './trust-store.ts';
import { frames } from './wire.ts';

export interface QueryServiceOptions {
  key: NodeKey;
  trust: TrustStore;
  /** Answers from this node's databases and blobs; without it the node only relays. */
  node?: RefugeNode;
}

export interface QueryMesh extends StreamOpener {
  readonly peerId: string;
  /** Trusted peers currently connected: where queries are forwarded. */
  upPeers(): Array<{ peerId: string }>;
}

/** A message must arrive this soon after its stream opens. */
const READ_WAIT_MS = 10_000;

export class QueryService {
  readonly router: QueryRouter;

  constructor(
    private readonly mesh: QueryMesh,
    private readonly options: QueryServiceOptions,
  ) {
    const node = options.node;
    this.router = new QueryRouter({
      self: mesh.peerId,
      sign: (bytes) => signBytes(options.key, bytes),
      peers: () => mesh.upPeers().map((p) => p.peerId),
      send: (peer, message) => void this.send(peer, message),
      ...(node && { answer: localAnswerer(node, options.trust) }),
    });
  }

  /** Floods a question (`{kind:'find', selector, db}` or `{kind:'blob', blob}`) to trusted connected peers. */
  ask(question: unknown, options: AskOptions = {}): QueryStream {
    return this.router.ask(question, options);
  }

  close(): void {
    this.router.close();
  }

  /**
   * Any connected peer may ask (it gets what its grants allow), but only trusted neighbours' queries
   * are passed on: a stranger cannot use this node to flood its trusted peers.
   */
  readonly handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const from = connection.remotePeer.toString();
    try {
      const message = await frames(stream, MAX_QUERY_MESSAGE_BYTES).read(AbortSignal.timeout(READ_WAIT_MS));
      await stream.close().catch(() => undefined);
      const trusted = isTrusted(await this.options.trust.current(), from);
      // Results are only taken from trusted neighbours: queries were only sent to them.
      if ((message as { type?: unknown } | null)?.type === 'result' && !trusted) return;
      this.router.receive(from, message, { forward: trusted });
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };

  private async send(peer: string, message: QueryMessage): Promise<void> {
    let stream: Stream | undefined;
    try {
      stream = await this.mesh.openStream(peer, QUERY_PROTOCOL, AbortSignal.timeout(READ_WAIT_MS));
      await frames(stream, MAX_QUERY_MESSAGE_BYTES).write(message);
      await stream.close();
    } catch (err) {
      // A neighbour that went away misses this message; flooding reaches others by other paths.
      stream?.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
