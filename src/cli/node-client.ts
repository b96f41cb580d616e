// A small JSON client for a running node's maintenance APIs (refs, pins, gc, scrub) used by the
// blobs and snapshot commands with --url; credentials in the URL become a Basic auth header.

import { RefugeError, isErrorCode } from '../errors/index.ts';
import type { ScrubReport } from '../blobs/index.ts';
import type { GcReport } from '../gc/index.ts';
import type { BlobGcStatusWire } from '../http/index.ts';
import type { RefEntry, RefMeta, RefStore, SignedRef } from '../refs/index.ts';
import { readEventStream } from '../platform/event-stream.ts';

/** How long a gc hold lasts between renewals (seconds). */
const HOLD_SECONDS = 600;

export class NodeClient {
  readonly url: string;
  readonly #headers: Record<string, string> = {};

  /** `hint`: what the unreachable-node error suggests (commands that can work on --data say so). */
  constructor(
    url: string,
    private readonly hint = ' (or use --data DIR)',
  ) {
    let u: URL;
    try {
      u = new URL(url);
    } catch (err) {
      throw new RefugeError('bad_request', `invalid --url ${JSON.stringify(url)}`, { cause: err });
    }
    if (u.username || u.password) {
      this.#headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    }
    u.username = '';
    u.password = '';
    this.url = u.href.replace(/\/+$/, '');
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: { ...this.#headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new RefugeError('unavailable', `cannot reach the node at ${this.url} (${(err as Error).message}); is it running?${this.hint}`, { cause: err });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { error?: unknown; reason?: unknown };
      const reason = typeof e.reason === 'string' ? e.reason : `${method} ${path}: HTTP ${res.status}`;
      throw new RefugeError(isErrorCode(e.error) ? e.error : res.status === 404 ? 'not_found' : res.status >= 500 ? 'unavailable' : 'bad_request', reason, { status: res.status });
    }
    return parsed as T;
  }

  /**
   * Follows a server-sent event stream until `signal` aborts or the node ends it, calling `onEvent`
   * with each event's name and parsed data.
   */
  async events(path: string, onEvent: (event: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    let res: Response;
    try {
      res = await fetch(this.url + path, { headers: { ...this.#headers, accept: 'text/event-stream' }, ...(signal && { signal }) });
    } catch (err) {
      if (signal?.aborted) return;
      throw new RefugeError('unavailable', `cannot reach the node at ${this.url} (${(err as Error).message}); is it running?`, { cause: err });
    }
    if (!res.ok || !res.body) {
      const e = (await res.json().catch(() => ({}))) as { error?: unknown; reason?: unknown };
      throw new RefugeError(isErrorCode(e.error) ? e.error : 'unavailable', typeof e.reason === 'string' ? e.reason : `GET ${path}: HTTP ${res.status}`, { status: res.status });
    }
    try {
      for await (const { event, data } of readEventStream(res.body)) onEvent(event, JSON.parse(data));
    } catch (err) {
      if (!signal?.aborted) throw new RefugeError('unavailable', `the event stream from ${this.url} broke: ${(err as Error).message}`, { cause: err });
    }
  }

  owner = async (): Promise<string> => (await this.json<{ owner: string }>('GET', '/_refs/_key')).owner;
  update = (name: string, root: string, meta?: RefMeta): Promise<SignedRef> => this.json('POST', `/_refs/${name}/_update`, { root, ...(meta && { meta }) });
  gc = (options: { dryRun: boolean; graceSeconds: number; force: boolean }): Promise<GcReport> =>
    this.json('POST', '/_blobs/_gc', { dry_run: options.dryRun, grace: options.graceSeconds, force: options.force });
  scrub = (): Promise<ScrubReport> => this.json('POST', '/_blobs/_scrub', {});
  /** The node's own gc as `GET /_blobs/_gc` tells it (wire JSON). */
  gcStatus = (): Promise<BlobGcStatusWire> => this.json('GET', '/_blobs/_gc');
  pins = async (): Promise<string[]> => (await this.json<{ pins: string[] }>('GET', '/_pins')).pins;
  pin = async (root: string): Promise<boolean> => (await this.json<{ created: boolean }>('PUT', `/_pins/${encodeURIComponent(root)}`)).created;
  unpin = async (root: string): Promise<boolean> => {
    try {
      await this.json('DELETE', `/_pins/${encodeURIComponent(root)}`);
      return true;
    } catch (err) {
      if (err instanceof RefugeError && err.code === 'not_found') return false;
      throw err;
    }
  };

  /**
   * Holds the node's gc off (`/_blobs/_holds`) until the answered function releases it, renewing
   * the hold meanwhile: for a writer that names its blobs only at the end. A node without holds
   * (an older one) is written to as before.
   */
  holdGc = async (): Promise<() => Promise<void>> => {
    let hold: string;
    try {
      hold = (await this.json<{ hold: string }>('POST', '/_blobs/_holds', { ttl: HOLD_SECONDS })).hold;
    } catch (err) {
      // What an older node answers for a path it does not know.
      if (err instanceof RefugeError && (err.code === 'not_found' || err.code === 'method_not_allowed')) return async () => undefined;
      throw err;
    }
    const path = `/_blobs/_holds/${encodeURIComponent(hold)}`;
    // Renewed at a third of its life: two renewals may fail (a busy node) before it lapses.
    const timer = setInterval(() => void this.json('PUT', path, { ttl: HOLD_SECONDS }).catch(() => undefined), (HOLD_SECONDS * 1000) / 3);
    timer.unref();
    return async () => {
      clearInterval(timer);
      // Left to lapse when the node cannot be reached now.
      await this.json('DELETE', path).catch(() => undefined);
    };
  };

  /** The node's refs as a read-mostly RefStore (puts send already signed refs). */
  refStore(): RefStore {
    return {
      get: async (name) => {
        try {
          return await this.json<SignedRef>('GET', `/_refs/${name}`);
        } catch (err) {
          if (err instanceof RefugeError && err.code === 'not_found') return null;
          throw err;
        }
      },
      put: async (ref, meta) => {
        await this.json('PUT', `/_refs/${ref.name}`, meta ? { ref, meta } : ref);
      },
      history: async (name) => {
        try {
          return (await this.json<{ history: RefEntry[] }>('GET', `/_refs/${name}?history=true`)).history;
        } catch (err) {
          if (err instanceof RefugeError && err.code === 'not_found') return [];
          throw err;
        }
      },
      list: async () => (await this.json<{ refs: Array<{ name: string }> }>('GET', '/_refs')).refs.map((r) => r.name),
    };
  }
}
