// The literal text every match of a `$regex` starts with, so that the planner can read an index
// range (strings from that prefix up to the next one) instead of every string on the field.

// RE2 takes a backslash before any ASCII punctuation as that character itself.
const PUNCT = /^[!-/:-@[-`{-~]$/;
// What ends a run of literal characters: a quantifier, a group, a class, an anchor, any character.
const SPECIAL = new Set(['.', '(', ')', '[', ']', '{', '}', '|', '^', '$']);
const QUANTIFIER = new Set(['*', '+', '?', '{']);

/**
 * The prefix every string the pattern matches begins with ('' when it cannot be told). Only a
 * pattern anchored by a leading `^`, with no leading flag group (`(?i)` folds case, `(?m)` lets `^`
 * match after any newline) and no alternation at its top level (`^a|b` matches "xb"), has one:
 * the literal characters after `^`, up to the first that a quantifier may repeat or drop.
 */
export function regexPrefix(source: string): string {
  if (!source.startsWith('^') || hasTopLevelAlternation(source)) return '';
  const chars = [...source.slice(1)];
  let prefix = '';
  for (let i = 0; i < chars.length; i++) {
    let c = chars[i]!;
    if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined || !PUNCT.test(next)) break;
      c = next;
      i++;
    } else if (SPECIAL.has(c) || QUANTIFIER.has(c)) break;
    // `a?`, `a*`, `a{0,2}` may leave `a` out (and `a+` ends the run anyway).
    if (QUANTIFIER.has(chars[i + 1] ?? '')) break;
    prefix += c;
  }
  return prefix;
}

/**
 * Whether `|` splits the whole pattern (outside every group and character class). Conservative:
 * `\Q...\E` quoting, which this does not follow, and unbalanced parentheses count as alternation.
 */
function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      if (source[i + 1] === 'Q') return true;
      i++;
    } else if (c === '[') i = classEnd(source, i);
    else if (c === '(') depth++;
    else if (c === ')') {
      if (--depth < 0) return true;
    } else if (c === '|' && depth === 0) return true;
  }
  return depth !== 0;
}

/** The index of the `]` closing the class opened at `open` (a `]` first in it is a member; `[:alpha:]` nests). */
function classEnd(source: string, open: number): number {
  let i = open + 1;
  if (source[i] === '^') i++;
  if (source[i] === ']') i++;
  for (; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') i++;
    else if (c === '[' && source[i + 1] === ':') {
      const end = source.indexOf(':]', i + 2);
      if (end >= 0) i = end + 1;
    } else if (c === ']') return i;
  }
  return source.length;
}
