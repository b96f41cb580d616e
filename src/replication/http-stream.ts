// An answer read as it comes, for a feed too long to hold whole (its text piece by piece) or an
// attachment (its bytes). The request's timeout counts silence only while the caller waits for
// the next piece; a caller busy with what it was given is not a dead link.

import { RefugeError } from '../errors/index.ts';
import { describeFailure, httpError, type HttpClient, type HttpRequest } from './http-client.ts';

/** Error statuses are read whole and thrown as `HttpClient.request` throws them. */
export async function* streamText(client: HttpClient, req: HttpRequest): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  for await (const chunk of streamBytes(client, req)) yield decoder.decode(chunk, { stream: true });
  const last = decoder.decode();
  if (last !== '') yield last;
}

/** The answer's bytes as they come (an attachment); error statuses are thrown as for streamText. */
export async function* streamBytes(client: HttpClient, req: HttpRequest): AsyncGenerator<Uint8Array> {
  const { res, timer, what } = await client.open(req);
  // The transport may not end a stalled body when the signal fires (a fetch's may not): cancel it.
  const giveUp = () => res.cancel();
  timer.signal.addEventListener('abort', giveUp, { once: true });
  let finished = false;
  try {
    if (res.status >= 400) {
      const decoder = new TextDecoder();
      let text = '';
      for (let r = await res.chunks.next(); !r.done; r = await res.chunks.next()) text += decoder.decode(r.value, { stream: true });
      finished = true;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = { reason: `HTTP ${res.status}, an answer not JSON (${text.length} bytes)` };
      }
      throw httpError(res.status, body, what);
    }
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        if (timer.signal.aborted) throw timer.signal.reason;
        timer.touch();
        next = await res.chunks.next();
        if (timer.signal.aborted) throw timer.signal.reason;
      } catch (err) {
        if (req.signal?.aborted) throw req.signal.reason ?? err;
        throw new RefugeError('unavailable', `${what}: connection lost reading the answer (${describeFailure(err, timer.signal)})`, { cause: err });
      }
      if (next.done) break;
      timer.pause();
      yield next.value;
    }
    finished = true;
  } finally {
    timer.signal.removeEventListener('abort', giveUp);
    timer.clear();
    // Left early (the caller stopped, or an error): the rest of the body is never read.
    if (!finished) res.cancel();
  }
}
