// Parses the Lucene-like query strings CouchDB search accepts into a small tree: terms, prefixes
// (foo*), fuzzy terms (foo~1), "phrases", field:..., groups, boosts (^2), AND/OR/NOT, &&/||/!, +/-.
import { RefugeError } from '../errors/index.ts';

export type QueryNode =
  | { type: 'term'; field?: string; text: string; prefix?: boolean; fuzzy?: number; boost?: number }
  | { type: 'phrase'; field?: string; text: string; boost?: number }
  | { type: 'all' }
  | BoolNode;

/** Lucene's boolean query: every `must`, at least one `should` when there is no `must`, no `not`. */
export interface BoolNode {
  type: 'bool';
  must: QueryNode[];
  should: QueryNode[];
  not: QueryNode[];
  boost?: number;
}

type Token =
  | { kind: 'word'; text: string; pos: number; wild: boolean }
  | { kind: 'phrase'; text: string; pos: number }
  | { kind: 'op'; text: 'AND' | 'OR' | 'NOT' | '+' | '-' | '(' | ')' | ':' | '^' | '~'; pos: number };

const MAX_FUZZY_EDITS = 2;
const MAX_FUZZY_TERM = 256;

/**
 * Edits allowed by `term~f`, as Lucene's parser counts them (FuzzyQuery.floatToEdits): a whole
 * number of edits, at most 2; or an old-style similarity below 1, `(1 - f) x length`, at most 2.
 * Always a whole number: the library reads a fraction as a share of its own key's length.
 */
function fuzzyEdits(f: number, term: string, pos: number): number {
  if (f >= 1 && !Number.isInteger(f)) throw parseError(`fractional edit distances are not allowed (at position ${pos})`);
  if (f >= 1) return Math.min(f, MAX_FUZZY_EDITS);
  if (f === 0) return 0;
  return Math.min(Math.trunc((1 - f) * [...term].length), MAX_FUZZY_EDITS);
}
const SPECIAL = new Set(['(', ')', ':', '"', '^', '~', '[', ']', '{', '}', '/', '\\']);

export const parseError = (reason: string): RefugeError => new RefugeError('query_parse_error', reason);

function lex(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/u.test(c)) i++;
    else if (c === '"') {
      const end = findQuote(q, i + 1);
      out.push({ kind: 'phrase', text: unescape(q.slice(i + 1, end)), pos: i });
      i = end + 1;
    } else if (c === '[' || c === '{') {
      throw parseError(`range queries are not supported (at position ${i})`);
    } else if (c === '/') {
      throw parseError(`regular expression queries are not supported (at position ${i})`);
    } else if (c === '&' && q[i + 1] === '&') {
      out.push({ kind: 'op', text: 'AND', pos: i });
      i += 2;
    } else if (c === '|' && q[i + 1] === '|') {
      out.push({ kind: 'op', text: 'OR', pos: i });
      i += 2;
    } else if (c === '!' || c === '+' || c === '-') {
      out.push({ kind: 'op', text: c === '!' ? 'NOT' : c, pos: i });
      i++;
    } else if (c === '(' || c === ')' || c === ':' || c === '^' || c === '~') {
      out.push({ kind: 'op', text: c, pos: i });
      i++;
    } else {
      let text = '';
      let wild = false;
      const start = i;
      while (i < q.length && !/\s/u.test(q[i]!) && !(SPECIAL.has(q[i]!) && q[i] !== '\\')) {
        if (q[i] === '\\') {
          if (i + 1 >= q.length) throw parseError('the query ends with a lone backslash');
          text += q[i + 1];
          i += 2;
          continue;
        }
        if (q[i] === '*' || q[i] === '?') {
          const last = q[i] === '*' && (i + 1 >= q.length || /\s/u.test(q[i + 1]!) || SPECIAL.has(q[i + 1]!));
          if (!last) throw parseError(`wildcards are only supported as a trailing * (at position ${i})`);
          wild = true;
        } else text += q[i];
        i++;
      }
      if (!wild && (text === 'AND' || text === 'OR' || text === 'NOT')) out.push({ kind: 'op', text, pos: start });
      else out.push({ kind: 'word', text, pos: start, wild });
    }
  }
  return out;
}

function findQuote(q: string, from: number): number {
  for (let i = from; i < q.length; i++) {
    if (q[i] === '\\') i++;
    else if (q[i] === '"') return i;
  }
  throw parseError(`unterminated phrase starting at position ${from - 1}`);
}

const unescape = (s: string): string => s.replace(/\\(.)/gu, '$1');

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly defaultMust: boolean,
  ) {}

  parse(): QueryNode {
    if (this.tokens.length === 0) throw parseError('the query is empty');
    const node = this.orExpr();
    const extra = this.peek();
    if (extra) throw parseError(`unexpected ${show(extra)} at position ${extra.pos}`);
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t !== undefined && t.kind === 'op' && t.text === text;
  }

  private orExpr(): QueryNode {
    const sides = [this.andExpr()];
    while (this.isOp('OR')) {
      this.i++;
      sides.push(this.andExpr());
    }
    if (sides.length === 1) return sides[0]!.node;
    // As Lucene's parser: a side of bare negations (`NOT cherry`, `-a -b`) excludes from the whole
    // disjunction (`apple OR NOT cherry` is apple without cherry), it does not add "everything but
    // cherry". A group in parentheses stays a query of its own, as there. Alone, negations stay.
    const positive = sides.filter((side) => !side.bareNot);
    if (positive.length === 0 || positive.length === sides.length) return { type: 'bool', must: [], should: sides.map((side) => side.node), not: [] };
    return { type: 'bool', must: [], should: positive.map((side) => side.node), not: sides.filter((side) => side.bareNot).flatMap((side) => (side.node as BoolNode).not) };
  }

  // Explicit AND makes both sides required (a negated side stays excluded).
  private andExpr(): { node: QueryNode; bareNot: boolean } {
    const first = this.sequence();
    if (!this.isOp('AND')) return { node: first.node, bareNot: first.onlyNot };
    const bool: BoolNode = { type: 'bool', must: [], should: [], not: [] };
    const add = (s: Sequence): void => {
      if (s.single?.occur === 'not') bool.not.push(s.single.node);
      else bool.must.push(s.single ? s.single.node : s.node);
    };
    add(first);
    while (this.isOp('AND')) {
      this.i++;
      add(this.sequence());
    }
    return { node: bool, bareNot: false };
  }

  // Clauses side by side: each required (+, or by default unless `any`), optional or excluded (-, NOT).
  private sequence(): Sequence {
    const clauses: Clause[] = [];
    while (this.i < this.tokens.length && !this.isOp('OR') && !this.isOp('AND') && !this.isOp(')')) {
      clauses.push(this.clause());
    }
    if (clauses.length === 0) {
      const t = this.peek();
      throw parseError(t ? `expected a term before ${show(t)} at position ${t.pos}` : 'the query ends where a term was expected');
    }
    const bool: BoolNode = { type: 'bool', must: [], should: [], not: [] };
    for (const c of clauses) bool[c.occur].push(c.node);
    const onlyNot = clauses.every((c) => c.occur === 'not');
    if (clauses.length === 1 && clauses[0]!.occur !== 'not') return { node: clauses[0]!.node, single: clauses[0], onlyNot };
    return { node: bool, single: clauses.length === 1 ? clauses[0] : undefined, onlyNot };
  }

  private clause(): Clause {
    let occur: Clause['occur'] = this.defaultMust ? 'must' : 'should';
    if (this.isOp('+')) {
      occur = 'must';
      this.i++;
    } else if (this.isOp('-') || this.isOp('NOT')) {
      occur = 'not';
      this.i++;
    }
    const t = this.peek();
    const next = this.tokens[this.i + 1];
    if (t?.kind !== 'word' || next?.kind !== 'op' || next.text !== ':') return { occur, node: this.boosted(this.atom(undefined)) };
    this.i += 2;
    if (!t.wild) return { occur, node: this.boosted(this.atom(t.text)) };
    // `*:*`: every document.
    const star = this.peek();
    if (t.text !== '' || star?.kind !== 'word' || !star.wild || star.text !== '') throw parseError(`expected *:* at position ${t.pos}`);
    this.i++;
    return { occur, node: { type: 'all' } };
  }

  private atom(field: string | undefined): QueryNode {
    const t = this.peek();
    if (!t) throw parseError('the query ends where a term was expected');
    this.i++;
    if (t.kind === 'phrase') return { type: 'phrase', text: t.text, ...(field === undefined ? {} : { field }) };
    if (t.kind === 'word') {
      if (t.wild && t.text === '' && field === undefined) return { type: 'all' };
      const node: QueryNode = { type: 'term', text: t.text, ...(field === undefined ? {} : { field }) };
      if (t.wild) node.prefix = true;
      if (this.isOp('~')) {
        if (t.wild) throw parseError(`a prefix cannot also be fuzzy (at position ${t.pos})`);
        this.i++;
        node.fuzzy = fuzzyEdits(this.number(true) ?? MAX_FUZZY_EDITS, t.text, t.pos);
        // The term's length bounds the work, which grows with its square: a 45k-character fuzzy
        // term held the node for seconds and took 2 GB.
        if (t.text.length > MAX_FUZZY_TERM) throw parseError(`a fuzzy term may be at most ${MAX_FUZZY_TERM} characters long (at position ${t.pos})`);
      }
      return node;
    }
    if (t.text === '(') {
      const inner = this.orExpr();
      if (!this.isOp(')')) throw parseError(`missing ) for the ( at position ${t.pos}`);
      this.i++;
      return field === undefined ? inner : withField(inner, field);
    }
    throw parseError(`unexpected ${show(t)} at position ${t.pos}`);
  }

  private boosted(node: QueryNode): QueryNode {
    if (!this.isOp('^')) return node;
    this.i++;
    const boost = this.number(false);
    if (boost === undefined || !(boost > 0)) throw parseError('^ must be followed by a positive number');
    if (node.type === 'all') return node;
    return { ...node, boost };
  }

  private number(optional: boolean): number | undefined {
    const t = this.peek();
    if (t?.kind === 'word' && !t.wild && /^\d+(\.\d+)?$/u.test(t.text)) {
      this.i++;
      return Number(t.text);
    }
    if (optional) return undefined;
    throw parseError(`expected a number${t ? ` at position ${t.pos}` : ' at the end'}`);
  }
}

interface Clause {
  occur: 'must' | 'should' | 'not';
  node: QueryNode;
}
interface Sequence {
  node: QueryNode;
  single: Clause | undefined;
  /** Every clause excluded (`NOT a`, `-a -b`): nothing to match by itself. */
  onlyNot: boolean;
}

/** `title:(a b)` applies the field to every term inside that names none. */
function withField(node: QueryNode, field: string): QueryNode {
  switch (node.type) {
    case 'term':
    case 'phrase':
      return node.field === undefined ? { ...node, field } : node;
    case 'all':
      return node;
    case 'bool':
      return {
        ...node,
        must: node.must.map((n) => withField(n, field)),
        should: node.should.map((n) => withField(n, field)),
        not: node.not.map((n) => withField(n, field)),
      };
  }
}

const show = (t: Token): string => (t.kind === 'phrase' ? `"${t.text}"` : t.kind === 'word' ? `'${t.text}'` : `'${t.text}'`);

/**
 * Parses `q`. Terms side by side are all required unless `any` is set (then any one suffices, as
 * in Lucene with the OR default); AND binds tighter than OR.
 */
export function parseQuery(q: string, options: { any?: boolean } = {}): QueryNode {
  if (typeof q !== 'string') throw parseError('the query must be a string');
  return new Parser(lex(q), options.any !== true).parse();
}
