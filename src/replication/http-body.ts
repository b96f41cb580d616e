// An answer's body read whole: the request's timer restarted at each chunk, a cap on its size,
// heartbeats listened for, and a long-poll given up once it has waited its time in silence.

import { RefugeError } from '../errors/index.ts';
import type { TransportAnswer } from '../platform/http-transport.ts';
import type { HeartbeatEar } from './heartbeats.ts';

interface QuietWait {
  /** Called with each chunk's text; stops the wait once something besides the opening comes. */
  seen(chunk: string): void;
  readonly signal: AbortSignal;
  readonly over: boolean;
  clear(): void;
}

const OPENING = '{"results":[';

export function quietWait(ms: number): QuietWait {
  const controller = new AbortController();
  let head = '';
  let timer: ReturnType<typeof setTimeout> | undefined = setTimeout(() => controller.abort(), ms);
  const clear = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  return {
    seen(chunk) {
      if (timer === undefined) return;
      head += chunk.replace(/\s+/g, '');
      if (!OPENING.startsWith(head)) clear();
    },
    signal: controller.signal,
    get over() {
      return controller.signal.aborted;
    },
    clear,
  };
}

/**
 * The answer's body as text, the request's timer restarted at every chunk: a long answer that
 * keeps coming (a batch of large attachments on a slow link) is not cut off, a silent one still
 * is. `signal` (the request's: cancelled, or its time up) ends the read itself, not only the
 * request: an answer whose body stalls after its headers must not hold a cancelled replication for
 * ever, whether or not the transport errors its body then.
 */
export async function readText(res: TransportAnswer, signal: AbortSignal, touch: () => void, maxBytes: number, ear: HeartbeatEar, wait?: QuietWait): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  const giveUp = () => res.cancel();
  wait?.signal.addEventListener('abort', giveUp, { once: true });
  signal.addEventListener('abort', giveUp, { once: true });
  let finished = false;
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason ?? new RefugeError('unavailable', 'the request was aborted');
      const { value: chunk, done } = await res.chunks.next();
      if (signal.aborted) throw signal.reason ?? new RefugeError('unavailable', 'the request was aborted');
      if (done) {
        finished = true;
        break;
      }
      if (wait?.over) throw new RefugeError('unavailable', 'the long-poll waited its time');
      touch();
      bytes += chunk.length;
      if (bytes > maxBytes) throw new RefugeError('too_large', `the answer is larger than ${maxBytes} bytes`, { status: 502 });
      const piece = decoder.decode(chunk, { stream: true });
      wait?.seen(piece);
      text += piece;
      ear.hear(text);
    }
    if (wait?.over) throw new RefugeError('unavailable', 'the long-poll waited its time');
  } finally {
    wait?.clear();
    wait?.signal.removeEventListener('abort', giveUp);
    signal.removeEventListener('abort', giveUp);
    // Leaving early (too large, given up) cancels the body: the rest is never read.
    if (!finished) res.cancel();
  }
  return text + decoder.decode();
}
