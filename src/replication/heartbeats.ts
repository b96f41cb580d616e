// Whether a long-poll's answer shows its server sending heartbeats, told from the text received so
// far alone: however a link cuts the answer into pieces, the verdict is the same.

/**
 * Line breaks that answers put where heartbeats also go, between the opening `{"results":[` and
 * the first row or the closing `]`. CouchDB writes one with the opening, one more as a long-poll
 * starts waiting (chttpd's `waiting_for_updates`), and one to begin its closing: up to two before
 * a row, three before the `]` of an answer that timed out. Refuge and pouchdb-server write fewer,
 * compact JSON none. A piece of the body may be nothing but one of these, so a chunk made only of
 * newlines tells nothing; a line break beyond these counts does.
 */
const LAYOUT_BEFORE_ROW = 2;
const LAYOUT_BEFORE_CLOSE = 3;
const OPENING = '{"results":[';
const OPENING_AT = /\{\s*"results"\s*:\s*\[/y;

/** `heard` and `none` are final: more text never changes them. */
export type HeartbeatVerdict = 'heard' | 'none' | 'unknown';

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/**
 * The verdict on an answer's first `text.length` characters. A newline before the opening is a
 * beat (pouchdb-server beats before it knows whether it will wait; no layout starts so). Past the
 * first row or the closing bracket nothing is a heartbeat: a long-poll's server stops waiting once
 * it has something to answer, and what follows is layout.
 */
export function heartbeatVerdict(text: string): HeartbeatVerdict {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) {
    if (text.charCodeAt(i) === 10) return 'heard';
    i++;
  }
  if (i === text.length) return 'unknown';
  OPENING_AT.lastIndex = i;
  if (!OPENING_AT.test(text)) {
    // Not yet all of the opening, or another layout (no heartbeats are looked for there).
    const start = text.slice(i, i + 64).replace(/\s+/g, '');
    return start.length < OPENING.length && OPENING.startsWith(start) ? 'unknown' : 'none';
  }
  let newlines = 0;
  for (i = OPENING_AT.lastIndex; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) newlines++;
    else if (!isSpace(c)) {
      const layout = c === 93 /* ] */ ? LAYOUT_BEFORE_CLOSE : LAYOUT_BEFORE_ROW;
      return newlines > layout ? 'heard' : 'none';
    }
  }
  // Still waiting: only more line breaks than any layout's, whatever comes next, are beats.
  return newlines > LAYOUT_BEFORE_CLOSE ? 'heard' : 'unknown';
}

/** Follows an answer as it arrives, looking at its text only until the verdict is final. */
export class HeartbeatEar {
  private verdict: HeartbeatVerdict = 'unknown';

  /** Told the whole text received so far, after each piece. */
  hear(textSoFar: string): void {
    if (this.verdict === 'unknown') this.verdict = heartbeatVerdict(textSoFar);
  }

  get heard(): boolean {
    return this.verdict === 'heard';
  }
}
