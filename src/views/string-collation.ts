// ICU-like sort keys for strings in view keys: a string maps to a key whose code point order (= UTF-8
// byte order, LevelDB's) is the collation order, so rows sort on disk exactly as they compare here.
//
// Model (UCA, three levels plus a tie-break): primary = base character, case-insensitive, with
// whitespace < punctuation < symbols < currency < digits < letters; secondary = accents (NFD
// nonspacing marks), earlier accents weighing more; tertiary = lowercase < uppercase < compatibility
// variants. Levels compare one after another, so "a" < "A" < "á" < "Á" < "aa" < "b".
// Differences from ICU (CLDR root), on purpose and for good:
// - ASCII punctuation/symbols follow today's DUCET ("_ - , ; : ! ? . ' \" ( ) [ ] { } @ * / \ & # %
//   ` ^ + < = > | ~ $"); CouchDB's docs list "`" and "^" first, from an older ICU.
// - Non-ASCII characters get primaries by class then code point, not DUCET's table: letters of one
//   script sort by code point (Latin a-z first, then other scripts roughly in DUCET's script order),
//   non-decomposable Latin letters other than ß æ œ ø đ ł ħ sort after z, Greek final sigma is its
//   own letter, and every nonspacing mark (Mn/Me) is an accent (ICU gives some Indic vowel signs
//   primary weight). Compatibility characters (ligatures, full-width, superscripts) collate as their
//   NFKD form with a tertiary difference, as in DUCET.
// - ICU (tertiary strength) calls strings equal when they differ only in ignorable characters
//   (controls, format characters, lone surrogates); here such ties are broken by the NFD code points
//   (an identical level), so two strings compare equal exactly when their NFD forms are equal
//   (canonically equivalent strings, "é" vs "e\u0301", are equal, as in ICU).
// - No numeric ordering of digit runs ("10" < "9"), as in ICU's default.

import { compareStrings } from '../query/index.ts';

/** Separates levels; lower than every weight, so a shorter level sorts first. */
const SEP = '\u0001';
/** Opens the identical level; higher than anything that can follow a string in a key encoding. */
export const IDENTICAL_MARK = '\u000f';

// Primary weights are code points; non-ASCII characters get a class lead followed by themselves.
const LEAD_SPACE = 0x16;
const LEAD_PUNCT = 0x37;
const LEAD_SYMBOL = 0x40;
const LEAD_CURRENCY = 0x42;
const DIGIT0 = 0x50;
const LEAD_NUMBER = 0x5a;
const LETTER_A = 0x60;
const LEAD_LETTER = 0x7a;
const LEAD_OTHER = 0x7b;

const TER_UPPER = '\u0022';
const TER_VARIANT = '\u0023';
const TER_VARIANT_UPPER = '\u0024';

// Positions in the secondary/tertiary lists count down from MAX_POS so that an accent or capital
// earlier in the string weighs more (what comparing full UCA weight sequences gives).
const MAX_POS = 0xd000;
const posChar = (pos: number): string => String.fromCharCode(0x20 + (pos >= MAX_POS ? 0 : MAX_POS - pos));

const ASCII_PRIMARY: string[] = [];
const ASCII_UPPER: boolean[] = [];
(() => {
  const order: Array<[string, number]> = [
    ['\t\n\u000b\f\r ', 0x10],
    ['_-,;:!?.\'"()[]{}@*/\\&#%', 0x20],
    ['`^+<=>|~', 0x38],
    ['$', 0x41],
    ['0123456789', DIGIT0],
    ['abcdefghijklmnopqrstuvwxyz', LETTER_A],
  ];
  for (const [chars, base] of order) {
    for (let i = 0; i < chars.length; i++) ASCII_PRIMARY[chars.charCodeAt(i)] = String.fromCharCode(base + i);
  }
  for (let c = 0x41; c <= 0x5a; c++) {
    ASCII_PRIMARY[c] = ASCII_PRIMARY[c + 0x20]!;
    ASCII_UPPER[c] = true;
  }
})();

// Latin letters without a decomposition that DUCET sorts with a base letter.
const LATIN_SPECIAL: Record<string, { base: string; mark?: number }> = {
  ß: { base: 'ss' },
  æ: { base: 'ae' },
  œ: { base: 'oe' },
  ø: { base: 'o', mark: 0x338 },
  đ: { base: 'd', mark: 0x335 },
  ł: { base: 'l', mark: 0x337 },
  ħ: { base: 'h', mark: 0x335 },
};

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const RE_IGNORABLE = /^[\p{Cc}\p{Cf}\p{Cs}]$/u;
const RE_MARK = /^[\p{Mn}\p{Me}]$/u;
const RE_SPACE = /^[\p{Z}\u0085]$/u;
const RE_PUNCT = /^\p{P}$/u;
const RE_CURRENCY = /^\p{Sc}$/u;
const RE_SYMBOL = /^\p{S}$/u;
const RE_DIGIT = /^\p{Nd}$/u;
const RE_NUMBER = /^\p{N}$/u;
const RE_LETTER = /^[\p{L}\p{Mc}]$/u;

interface Builder {
  primary: string;
  secondary: string;
  tertiary: string;
  /** Collation elements so far (primaries and accents): the tertiary position. */
  ces: number;
  primaries: number;
  /** Whether levels 1-3 alone identify the string (no identical level needed). */
  simple: boolean;
}

/** The sort key of a string (its view collation); compare keys with `compareStrings` (code points). */
export function stringSortKey(s: string): string {
  if (s.length < MAX_POS && PRINTABLE_ASCII.test(s)) return asciiKey(s);
  const b: Builder = { primary: '', secondary: '', tertiary: '', ces: 0, primaries: 0, simple: true };
  const d = s.normalize('NFD');
  for (const ch of d) addChar(b, ch, false);
  if (b.ces >= MAX_POS) b.simple = false;
  const key = b.primary + SEP + b.secondary + SEP + b.tertiary + SEP;
  return b.simple ? key : key + IDENTICAL_MARK + identical(d) + SEP;
}

/**
 * What the sort key of every string that begins with `prefix` begins with: the prefix's primary
 * weights (case and accents weigh only at later levels). Given for printable ASCII only, where
 * each character's weight is its own: normalization and ignorable characters never reach across
 * the prefix's end, as they could after a combining mark.
 */
export function primaryPrefix(prefix: string): string | undefined {
  if (!PRINTABLE_ASCII.test(prefix)) return undefined;
  let primary = '';
  for (let i = 0; i < prefix.length; i++) primary += ASCII_PRIMARY[prefix.charCodeAt(i)]!;
  return primary;
}

function asciiKey(s: string): string {
  let primary = '';
  let tertiary = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    primary += ASCII_PRIMARY[c]!;
    if (ASCII_UPPER[c] === true) tertiary += posChar(i) + TER_UPPER;
  }
  return primary + SEP + SEP + tertiary + SEP;
}

function addPrimary(b: Builder, weight: string, tertiary: string | undefined): void {
  b.primary += weight;
  if (tertiary !== undefined) b.tertiary += posChar(b.ces) + tertiary;
  b.ces++;
  b.primaries++;
}

function addMark(b: Builder, cp: number): void {
  b.secondary += posChar(b.primaries) + String.fromCodePoint(cp);
  b.ces++;
}

function addChar(b: Builder, ch: string, variant: boolean): void {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) {
    if (ASCII_PRIMARY[cp] === undefined) {
      b.simple = false; // an ignorable control character
      return;
    }
    const upper = ASCII_UPPER[cp] === true;
    addPrimary(b, ASCII_PRIMARY[cp]!, variant ? (upper ? TER_VARIANT_UPPER : TER_VARIANT) : upper ? TER_UPPER : undefined);
    return;
  }
  if (RE_IGNORABLE.test(ch)) {
    b.simple = false;
    return;
  }
  if (RE_MARK.test(ch)) {
    addMark(b, cp);
    return;
  }
  const compat = ch.normalize('NFKD');
  if (compat !== ch) {
    b.simple = false;
    for (const part of compat) addChar(b, part, true);
    return;
  }
  const lowered = ch.toLowerCase();
  const lower = [...lowered].length === 1 ? lowered : ch;
  const upper = lower !== ch;
  if (upper && lower.toUpperCase() !== ch) b.simple = false; // two capitals share this lowercase
  const special = LATIN_SPECIAL[lower];
  if (special) {
    b.simple = false;
    for (const base of special.base) addPrimary(b, ASCII_PRIMARY[base.charCodeAt(0)]!, upper ? TER_VARIANT_UPPER : TER_VARIANT);
    if (special.mark !== undefined) addMark(b, special.mark);
    return;
  }
  const ter = variant ? (upper ? TER_VARIANT_UPPER : TER_VARIANT) : upper ? TER_UPPER : undefined;
  if (lower.charCodeAt(0) < 0x80 && ASCII_PRIMARY[lower.charCodeAt(0)] !== undefined) {
    addPrimary(b, ASCII_PRIMARY[lower.charCodeAt(0)]!, ter);
    return;
  }
  if (RE_DIGIT.test(ch)) {
    b.simple = false; // every script's digit d shares d's primary
    addPrimary(b, String.fromCharCode(DIGIT0 + digitValue(cp)), TER_VARIANT);
    return;
  }
  const lead = RE_LETTER.test(ch)
    ? LEAD_LETTER
    : RE_SPACE.test(ch)
      ? LEAD_SPACE
      : RE_PUNCT.test(ch)
        ? LEAD_PUNCT
        : RE_CURRENCY.test(ch)
          ? LEAD_CURRENCY
          : RE_SYMBOL.test(ch)
            ? LEAD_SYMBOL
            : RE_NUMBER.test(ch)
              ? LEAD_NUMBER
              : LEAD_OTHER;
  addPrimary(b, String.fromCharCode(lead) + lower, ter);
}

/** Decimal digits come in runs of ten code points starting at zero. */
function digitValue(cp: number): number {
  let start = cp;
  while (start > 0 && cp - start < 60 && RE_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/**
 * Code points as an order-preserving string without U+0000, U+0001 or lone surrogates (which have no
 * UTF-8 form): 0..2 -> 02 (02+c); U+D7FF -> D7FF 02; a lone surrogate -> D7FF 03 + two ASCII digits
 * of its offset; anything else as itself. Lone surrogates then sit between U+D7FF and U+E000.
 */
function identical(d: string): string {
  let out = '';
  for (let i = 0; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if (c < 3) out += '\u0002' + String.fromCharCode(2 + c);
    else if (c === 0xd7ff) out += '\ud7ff\u0002';
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < d.length && isTrail(d.charCodeAt(i + 1))) {
      out += d[i]! + d[i + 1]!;
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const v = c - 0xd800;
      out += '\ud7ff\u0003' + String.fromCharCode(0x40 + (v >> 6), 0x40 + (v & 63));
    } else out += d[i]!;
  }
  return out;
}

const isTrail = (u: number) => u >= 0xdc00 && u <= 0xdfff;

// Sorting compares the same strings many times: remember recent sort keys.
const cache = new Map<string, string>();
const CACHE_MAX = 20_000;

function cachedKey(s: string): string {
  let k = cache.get(s);
  if (k === undefined) {
    k = stringSortKey(s);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(s, k);
  }
  return k;
}

/** View collation of two strings: negative, zero (NFD-equal) or positive. */
export function compareViewStrings(a: string, b: string): number {
  if (a === b) return 0;
  return compareStrings(cachedKey(a), cachedKey(b));
}
