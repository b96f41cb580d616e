// Turns a parsed query into a MiniSearch query tree over the index's "field<US>term" keys, so the
// library does the boolean combination and the BM25 scoring. Phrases and fuzzy terms are checked
// per document through MiniSearch's `boostDocument` hook (0 drops a document at that node only).
import MiniSearch, { type Query, type SearchOptions } from 'minisearch';
import type { FieldAnalyzers } from './analyzers.ts';
import type { BoolNode, QueryNode } from './query-parser.ts';

/** Separates the field from the term in an index key: dynamic fields all live in one library field. */
export const FIELD_SEP = '\u001f';
/** Separates terms in the per-field token text kept for phrase checks. */
export const TOKEN_SEP = '\u0000';

export const termKey = (field: string, token: string): string => field + FIELD_SEP + token;

/** What the index keeps per document besides its terms: stored fields and token text per field. */
/** A field's entry in a stored record's `s` or `t`, own keys only (read back from JSON, they have a prototype). */
export function ownField<T>(fields: Record<string, T> | undefined, field: string): T | undefined {
  return fields !== undefined && Object.hasOwn(fields, field) ? fields[field] : undefined;
}

export interface StoredDoc {
  s?: Record<string, unknown>;
  t?: Record<string, string[]>;
  /** The first number given to each field (for sorting a field not stored). */
  n?: Record<string, number>;
}

export interface CompileContext {
  analyzers: FieldAnalyzers;
  /** Fields an unqualified term searches. */
  defaultFields: readonly string[];
}

const NOTHING: Query = { combineWith: 'OR', queries: [] };

const node = (combineWith: 'AND' | 'OR' | 'AND_NOT', queries: Query[], extra: SearchOptions = {}): Query =>
  queries.length === 1 && combineWith !== 'AND_NOT' && Object.keys(extra).length === 0 ? queries[0]! : { ...extra, combineWith, queries };

/** True when one of the field's values holds the tokens adjacent and in order. */
export function hasPhrase(values: readonly string[] | undefined, tokens: readonly string[]): boolean {
  if (!values) return false;
  const needle = tokens.join(TOKEN_SEP);
  return values.some(
    (v) => v === needle || v.startsWith(needle + TOKEN_SEP) || v.endsWith(TOKEN_SEP + needle) || v.includes(TOKEN_SEP + needle + TOKEN_SEP),
  );
}

/** A compiled clause, or null when its text analyzed to nothing: Lucene then leaves the clause out. */
type Clause = Query | null;

const live = (qs: readonly Clause[]): Query[] => qs.filter((q): q is Query => q !== null);

function phrase(field: string, tokens: readonly string[]): Clause {
  if (tokens.length === 0) return null;
  if (tokens.length === 1) return termKey(field, tokens[0]!);
  // The check runs once per matched term of a document: remember the answer per document.
  const seen = new Map<string, number>();
  const boostDocument = (id: unknown, _term: string, stored?: Record<string, unknown>): number => {
    const key = String(id);
    let ok = seen.get(key);
    if (ok === undefined) seen.set(key, (ok = hasPhrase(ownField((stored as StoredDoc | undefined)?.t, field), tokens) ? 1 : 0));
    return ok;
  };
  return { combineWith: 'AND', queries: tokens.map((t) => termKey(field, t)), boostDocument };
}

function termIn(field: string, n: Extract<QueryNode, { type: 'term' }>, ctx: CompileContext): Clause {
  const tokens = n.text === '' ? [] : ctx.analyzers(field)(n.text);
  if (n.prefix) {
    // `field:*` is every document with a term in that field.
    if (n.text === '') return { combineWith: 'OR', queries: [field + FIELD_SEP], prefix: true };
    if (tokens.length === 0) return null;
    const last: Query = { combineWith: 'OR', queries: [termKey(field, tokens.at(-1)!)], prefix: true };
    return node('AND', [...tokens.slice(0, -1).map((t) => termKey(field, t)), last]);
  }
  if (n.fuzzy !== undefined && tokens.length === 1) {
    // An edit may not reach across into another field's keys.
    const head = field + FIELD_SEP;
    const boostDocument = (_id: unknown, term: string): number => (term.startsWith(head) ? 1 : 0);
    return { combineWith: 'OR', queries: [termKey(field, tokens[0]!)], fuzzy: n.fuzzy, boostDocument };
  }
  return phrase(field, tokens);
}

function bool(n: BoolNode, ctx: CompileContext): Clause {
  const must = live(n.must.map((c) => compile(c, ctx)));
  const should = live(n.should.map((c) => compile(c, ctx)));
  const not = live(n.not.map((c) => compile(c, ctx)));
  if (must.length + should.length + not.length === 0) return null;
  let base: Query;
  if (must.length > 0) {
    const required = node('AND', must);
    // Optional clauses beside required ones only raise the score of documents that have them.
    base = should.length === 0 ? required : node('AND', [required, node('OR', [node('AND', must), ...should])]);
  } else if (should.length > 0) base = node('OR', should);
  else base = MiniSearch.wildcard;
  return not.length === 0 ? base : node('AND_NOT', [base, ...not]);
}

function boosted(q: Clause, boost: number | undefined): Clause {
  if (q === null || boost === undefined || boost === 1) return q;
  const boostTerm = (): number => boost;
  return typeof q === 'object' ? { ...q, boostTerm } : { combineWith: 'OR', queries: [q], boostTerm };
}

function anyField(fields: readonly string[], clause: (field: string) => Clause): Clause {
  const qs = live(fields.map(clause));
  return qs.length === 0 ? null : node('OR', qs);
}

function compile(n: QueryNode, ctx: CompileContext): Clause {
  const fields = 'field' in n && n.field !== undefined ? [n.field] : ctx.defaultFields;
  switch (n.type) {
    case 'all':
      return MiniSearch.wildcard;
    case 'bool':
      return boosted(bool(n, ctx), n.boost);
    case 'term':
      return boosted(anyField(fields, (f) => termIn(f, n, ctx)), n.boost);
    case 'phrase':
      return boosted(anyField(fields, (f) => phrase(f, ctx.analyzers(f)(n.text))), n.boost);
  }
}

/** Compiles a query tree against an index's analyzers and default fields. */
export function compileQuery(n: QueryNode, ctx: CompileContext): Query {
  return compile(n, ctx) ?? NOTHING;
}
