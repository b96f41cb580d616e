// One HTTP exchange as the replicator's client needs it: a status and the body's chunks as they
// come. Over `fetch` here (browsers, and any fetch a caller supplies); Node's default is undici's
// lower-level `request` (http-transport-node.ts), which costs a replicating node less CPU.

export interface TransportRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | StreamedBody;
  signal: AbortSignal;
}

/** A body sent as it is read (a multipart document), of a length known before (its Content-Length). */
export interface StreamedBody {
  length: number;
  chunks: AsyncIterable<Uint8Array>;
}

/** The body whole, where a fetch cannot be handed a stream to send (not every one can). */
async function wholeBody(body: StreamedBody): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(body.length);
  let at = 0;
  for await (const chunk of body.chunks) {
    out.set(chunk.subarray(0, Math.max(0, out.length - at)), at);
    at += chunk.length;
  }
  return out;
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
    const streamed = req.body !== undefined && typeof req.body !== 'string';
    const body = streamed ? await wholeBody(req.body as StreamedBody) : (req.body as string | undefined);
    // fetch sets a length of its own, and some refuse one given with it.
    const headers = streamed ? Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.toLowerCase() !== 'content-length')) : req.headers;
    const res = await (fetchFn ?? globalThis.fetch)(req.url, { method: req.method, headers, body, signal: req.signal });
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
