// Splits a normal `_changes` answer into its rows while it arrives, so a replicator can act on the
// first rows of a long feed before the last have come. Rows laid out a line each (CouchDB's and
// Refuge's layout) are taken as lines; otherwise row boundaries are found by tracking strings and
// nesting. Each row is then parsed by JSON.parse.

import { RefugeError } from '../errors/index.ts';

/** The answer's fields besides its rows (`last_seq`, `pending`, ...). */
export type ChangesTrailer = Record<string, unknown>;

const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const QUOTE = 34;
const BACKSLASH = 92;
const HEAD = /^\s*\{\s*"results"\s*:\s*\[/;

/**
 * Feed it the answer's text piece by piece; it hands back each complete row's text. CouchDB,
 * Refuge and PouchDB all write `results` first: an answer that does not start so is kept whole
 * and parsed at the end (`whole`), as a client without this would.
 */
export class ChangesSplitter {
  private text = '';
  /** Where scanning resumes in `text`. */
  private pos = 0;
  /** Where the row being scanned starts, or -1 between rows. */
  private rowStart = -1;
  /** Nesting inside the current row (0 between rows). */
  private depth = 0;
  private inString = false;
  private phase: 'head' | 'lines' | 'rows' | 'trailer' | 'whole' = 'head';

  constructor(private readonly maxRowChars: number) {}

  /** Whether the answer is being kept whole (it did not start with its rows). */
  get whole(): boolean {
    return this.phase === 'whole';
  }

  /** The rows `piece` completed, parsed. Throws SyntaxError on a row that is not JSON. */
  push(piece: string): unknown[] {
    this.text += piece;
    if (this.phase === 'head') {
      const head = HEAD.exec(this.text);
      if (!head) {
        // Not yet enough text to tell, or another layout: a few bytes settle it either way.
        if (this.text.length > 64 || /^\s*\{\s*"(?!r)|^\s*[^\s{]/.test(this.text)) this.phase = 'whole';
        return [];
      }
      const after = this.text.slice(head[0].length);
      // A line break right after the opening: a row per line, as CouchDB writes it.
      const next = /^[ \t\r]*(\n|[^\s])/.exec(after);
      if (!next) return [];
      this.text = after;
      this.phase = next[1] === '\n' ? 'lines' : 'rows';
    }
    const rows: unknown[] = [];
    if (this.phase === 'lines') this.takeLines(rows);
    if (this.phase !== 'rows') return rows;
    for (const text of this.scan()) rows.push(JSON.parse(text));
    if (this.rowStart < 0) {
      // Between rows nothing scanned is needed again.
      this.text = this.text.slice(this.pos);
      this.pos = 0;
    } else if (this.pos - this.rowStart > this.maxRowChars) {
      throw this.tooLarge();
    }
    return rows;
  }

  /**
   * Rows a line each: complete lines are taken, with the separating comma before or after them.
   * A line that is not one row (a layout that only began like CouchDB's) hands it and the rest
   * to the scanner.
   */
  private takeLines(rows: unknown[]): void {
    const text = this.text;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const lineStart = start;
      let line = text.slice(start, nl).trim();
      start = nl + 1;
      if (line.charCodeAt(0) === 44 /* , */) line = line.slice(1).trimStart();
      if (line.charCodeAt(line.length - 1) === 44) line = line.slice(0, -1).trimEnd();
      if (line === '') continue;
      if (line.charCodeAt(0) === CLOSE_BRACKET) {
        this.phase = 'trailer';
        this.text = line.slice(1) + '\n' + text.slice(start);
        return;
      }
      if (line.length > this.maxRowChars) throw this.tooLarge();
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch {
        this.phase = 'rows';
        this.text = text.slice(lineStart);
        return;
      }
      rows.push(row);
    }
    this.text = text.slice(start);
    if (this.text.length > this.maxRowChars) throw this.tooLarge();
  }

  private tooLarge(): RefugeError {
    return new RefugeError('too_large', `a change row is larger than ${this.maxRowChars} characters`, { status: 502 });
  }

  /**
   * After the last piece: the rows not handed out yet (all of them for an answer read whole) and
   * the trailer. Throws if the answer was cut short.
   */
  end(): { rows: unknown[]; trailer: ChangesTrailer } {
    if (this.phase === 'whole' || this.phase === 'head') {
      const body = JSON.parse(this.text) as { results?: unknown };
      if (body === null || typeof body !== 'object' || !Array.isArray(body.results)) {
        throw new RefugeError('bad_gateway', '_changes: no results in the answer');
      }
      const { results, ...trailer } = body as { results: unknown[] };
      return { rows: results, trailer };
    }
    // The last line may end without a line break.
    const rows = this.phase === 'lines' ? this.push('\n') : [];
    if (this.phase !== 'trailer') throw new SyntaxError('the answer ended inside its rows');
    // What follows the rows' closing bracket: `,"last_seq":...}` (or just `}`).
    const rest = this.text.trim();
    const trailer = JSON.parse(rest.startsWith(',') ? '{' + rest.slice(1) : '{' + rest) as ChangesTrailer;
    return { rows, trailer };
  }

  private scan(): string[] {
    const rows: string[] = [];
    const text = this.text;
    let i = this.pos;
    const n = text.length;
    while (i < n) {
      if (this.inString) {
        const q = text.indexOf('"', i);
        if (q < 0) {
          i = n;
          break;
        }
        // A quote preceded by an odd number of backslashes is escaped.
        let b = q - 1;
        while (b >= 0 && text.charCodeAt(b) === BACKSLASH) b--;
        i = q + 1;
        if ((q - 1 - b) % 2 === 0) this.inString = false;
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        this.inString = true;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (this.depth === 0) this.rowStart = i;
        this.depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (this.depth === 0) {
          // The rows' closing bracket: what is left is the trailer.
          this.phase = 'trailer';
          this.text = text.slice(i + 1);
          this.pos = 0;
          return rows;
        }
        if (--this.depth === 0) {
          if (i + 1 - this.rowStart > this.maxRowChars) throw this.tooLarge();
          rows.push(text.slice(this.rowStart, i + 1));
          this.rowStart = -1;
        }
      }
      i++;
    }
    this.pos = i;
    return rows;
  }
}
