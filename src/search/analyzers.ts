// Analyzers: how field text becomes index terms (Clouseau's names: standard, simple, whitespace,
// keyword, perfield). The same analyzer runs on documents and on query terms, so they meet.
import { RefugeError } from '../errors/index.ts';

export type Analyze = (text: string) => string[];

// NUL joins the tokens of a value kept for phrase checks (see library.ts), so no token may hold one.
const stripNul = (s: string): string => (s.includes('\u0000') ? s.replaceAll('\u0000', '') : s);

// Close to Lucene's StandardTokenizer for European text: runs of letters, marks and digits, kept
// whole across inner apostrophes and dots ("don't", "4.5", "u.s.a"). No stop words are dropped:
// phrases then match exactly the words written.
const WORD = /[\p{L}\p{M}\p{N}]+(?:['’.][\p{L}\p{M}\p{N}]+)*/gu;
const LETTERS = /\p{L}+/gu;

const ANALYZERS: Record<string, Analyze> = {
  standard: (text) => text.toLowerCase().match(WORD) ?? [],
  simple: (text) => text.toLowerCase().match(LETTERS) ?? [],
  whitespace: (text) => stripNul(text).split(/\s+/u).filter((t) => t !== ''),
  keyword: (text) => (text === '' ? [] : [stripNul(text)]),
};
ANALYZERS.classic = ANALYZERS.standard!;
ANALYZERS.email = ANALYZERS.standard!;

/** Field name -> analyzer; unlisted fields use the default. */
export type FieldAnalyzers = (field: string) => Analyze;

function named(name: unknown, where: string): Analyze {
  if (typeof name !== 'string' || !Object.hasOwn(ANALYZERS, name)) {
    throw new RefugeError(
      'invalid_design_doc',
      `${where}: unknown analyzer ${JSON.stringify(name)} (known: ${Object.keys(ANALYZERS).join(', ')}, perfield)`,
    );
  }
  return ANALYZERS[name]!;
}

/**
 * Resolves a definition's `analyzer`: a name, or `{name: 'perfield', default, fields: {f: name}}`
 * as in CouchDB. Absent means standard.
 */
export function resolveAnalyzer(spec: unknown, where: string): FieldAnalyzers {
  if (spec === undefined) return () => ANALYZERS.standard!;
  if (typeof spec === 'string') {
    const one = named(spec, where);
    return () => one;
  }
  if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
    const o = spec as Record<string, unknown>;
    if (o.name !== 'perfield') {
      const one = named(o.name, where);
      return () => one;
    }
    const fallback = named(o.default ?? 'standard', where);
    const fields = new Map<string, Analyze>();
    if (o.fields !== undefined) {
      if (!o.fields || typeof o.fields !== 'object' || Array.isArray(o.fields)) {
        throw new RefugeError('invalid_design_doc', `${where}: analyzer.fields must be an object`);
      }
      for (const [f, n] of Object.entries(o.fields)) fields.set(f, named(n, where));
    }
    return (field) => fields.get(field) ?? fallback;
  }
  throw new RefugeError('invalid_design_doc', `${where}: analyzer must be a name or an object`);
}

/** Turns an indexed value into text: strings as they are, numbers and booleans as written in JSON. */
export function valueText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}
