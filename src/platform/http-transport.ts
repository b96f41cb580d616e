// One HTTP exchange as the replicator's client needs it: a status and the body's chunks as they
// come. Over `fetch` here (browsers, and any fetch a caller supplies); Node's default is undici's
// lower-level `request` (http-transport-node.ts), which costs a replicating node less CPU.

export interface TransportRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
  signal: AbortSignal;
}

export interface TransportAnswer {
  status: number;
  /** The body's chunks in order; ends when the body does, throws when the connection fails. */
  chunks: AsyncIterator<Uint8Array>;
  /** Stops reading: the rest of the body is never read (the connection is not reused). */
  cancel(): void;
}

export type HttpTransport = (req: TransportRequest) => Promise<TransportAnswer>;

const NO_CHUNKS: AsyncIterator<Uint8Array> = { next: async () => ({ done: true, value: undefined }) };

/** A transport over a fetch function (default the global one, looked up at each call). */
export function fetchTransport(fetchFn?: typeof fetch): HttpTransport {
  return async (req) => {
    const res = await (fetchFn ?? globalThis.fetch)(req.url, { method: req.method, headers: req.headers, body: req.body, signal: req.signal });
    if (!res.body) {
      // An implementation without streams: the whole body as one chunk.
      const whole = new Uint8Array(await res.arrayBuffer());
      let given = false;
      const chunks: AsyncIterator<Uint8Array> = { next: async () => (given ? { done: true, value: undefined } : ((given = true), { done: false, value: whole })) };
      return { status: res.status, chunks: whole.length === 0 ? NO_CHUNKS : chunks, cancel: () => undefined };
    }
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    return {
      status: res.status,
      chunks: { next: () => reader.read() as Promise<IteratorResult<Uint8Array>> },
      cancel: () => void reader.cancel().catch(() => undefined),
    };
  };
}
