// The name CouchDB gives an index (and its design document) that `POST /db/_index` leaves unnamed:
// the SHA-1, in hex, of Erlang's term_to_binary of the request's index definition and options
// (mango_idx:gen_name), so that the same request makes the same design document on either server.
import { sha1 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** An Erlang term as jiffy decodes JSON into it, plus the atoms mango's options hold. */
export type Term = { atom: string } | { tuple: Term[] } | { list: Term[] } | { bin: string } | { num: number };

/** The parts of a `POST /db/_index` body that name an index, as given (absent: CouchDB's defaults). */
export interface IndexNaming {
  index: unknown;
  type?: string;
  name?: string;
  ddoc?: string;
  w?: number;
  partitioned?: unknown;
}

/**
 * CouchDB's generated name. The options are mango_opts:validate_idx_create's, defaults filled in
 * and sorted as lists:usort sorts them (by tag: ddoc, def, name, partitioned, type, w); the
 * definition is the request's `index` as written, so `["a"]` and `[{"a": "asc"}]` name two indexes.
 * Atoms are encoded as Latin-1 (ATOM_EXT), as term_to_binary does before OTP 26: the names
 * published for CouchDB agree (a build on OTP 26 or later, whose atoms are UTF-8, names otherwise).
 * What JSON.parse loses is lost here too: `1.0` counts as the integer 1, integer-like keys reorder.
 */
export function couchIndexName(req: IndexNaming): string {
  const def = jsonTerm(req.index);
  const opt = (tag: string, value: Term): Term => ({ tuple: [{ atom: tag }, value] });
  const orAuto = (v: string | undefined): Term => (v === undefined ? { atom: 'auto_name' } : { bin: v });
  const options: Term[] = [
    opt('ddoc', orAuto(req.ddoc)),
    opt('def', def),
    opt('name', orAuto(req.name)),
    opt('partitioned', req.partitioned === undefined ? { atom: 'db_default' } : jsonTerm(req.partitioned)),
    opt('type', { bin: req.type ?? 'json' }),
    opt('w', { num: req.w ?? 2 }),
  ];
  return bytesToHex(sha1(termToBinary({ tuple: [def, { list: options }] })));
}

/** term_to_binary (external term format, minor version 1). */
export function termToBinary(t: Term): Uint8Array {
  const out: number[] = [131];
  encode(t, out);
  return Uint8Array.from(out);
}

/** JSON as jiffy decodes it: objects as `{[{Key, Value}]}`, strings as binaries, literals as atoms. */
export function jsonTerm(v: unknown): Term {
  if (v === null || v === true || v === false) return { atom: String(v) };
  if (typeof v === 'string') return { bin: v };
  if (typeof v === 'number') return { num: v };
  if (Array.isArray(v)) return { list: v.map(jsonTerm) };
  const entries = Object.entries(v as Record<string, unknown>);
  return { tuple: [{ list: entries.map(([k, x]) => ({ tuple: [{ bin: k }, jsonTerm(x)] })) }] };
}

const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

function encode(t: Term, out: number[]): void {
  if ('atom' in t) {
    out.push(100, 0, t.atom.length, ...[...t.atom].map((c) => c.charCodeAt(0)));
  } else if ('tuple' in t) {
    out.push(104, t.tuple.length);
    for (const e of t.tuple) encode(e, out);
  } else if ('bin' in t) {
    const bytes = new TextEncoder().encode(t.bin);
    out.push(109, ...u32(bytes.length));
    // A loop, not a spread: a long field name would overflow the call's arguments.
    for (const b of bytes) out.push(b);
  } else if ('num' in t) {
    encodeNumber(t.num, out);
  } else if (t.list.length === 0) {
    out.push(106);
  } else if (t.list.length < 65536 && t.list.every(isByte)) {
    // A list of small integers is a string to Erlang, and written as one.
    out.push(107, t.list.length >> 8, t.list.length & 255);
    for (const e of t.list) out.push((e as { num: number }).num);
  } else {
    out.push(108, ...u32(t.list.length));
    for (const e of t.list) encode(e, out);
    out.push(106);
  }
}

const isByte = (t: Term) => 'num' in t && Number.isInteger(t.num) && t.num >= 0 && t.num <= 255;

function encodeNumber(n: number, out: number[]): void {
  if (!Number.isInteger(n)) {
    const buf = new DataView(new ArrayBuffer(8));
    buf.setFloat64(0, n);
    out.push(70, ...new Uint8Array(buf.buffer));
  } else if (n >= 0 && n <= 255) out.push(97, n);
  else if (n >= -(2 ** 31) && n < 2 ** 31) out.push(98, ...u32(n >>> 0));
  else {
    // SMALL_BIG_EXT: sign, then the magnitude's bytes, least significant first.
    let m = BigInt(Math.abs(n));
    const digits: number[] = [];
    for (; m > 0n; m >>= 8n) digits.push(Number(m & 255n));
    out.push(110, digits.length, n < 0 ? 1 : 0, ...digits);
  }
}
