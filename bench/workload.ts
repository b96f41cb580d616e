// The deterministic docs workload shared by both sides: ~200-byte JSON documents and random
// index sequences, all from a seeded PRNG so every run and every side sees the same data.

export interface BenchDoc {
  _id: string;
  _rev?: string;
  name: string;
  city: string;
  age: number;
  tags: string[];
  active: boolean;
  text: string;
  [key: string]: unknown;
}

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy'];
const CITIES = ['Paris', 'Lyon', 'Berlin', 'Madrid', 'Rome', 'Oslo', 'Tokyo', 'Lima', 'Austin', 'Cairo'];
const TAGS = ['red', 'green', 'blue', 'work', 'home', 'urgent', 'later', 'misc', 'draft', 'final'];
const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore'.split(' ');

export const docId = (i: number): string => 'doc' + String(i).padStart(8, '0');

function pick<T>(rand: () => number, from: readonly T[]): T {
  return from[Math.floor(rand() * from.length)]!;
}

/**
 * Document `i` of the workload (~200 bytes of JSON), from a PRNG seeded by `i`: any document can be
 * made again on demand, so a benchmark never has to hold the whole workload in memory.
 */
export function makeDoc(i: number, seed = 42): BenchDoc {
  const rand = prng(seed * 1_000_003 + i);
  const words: string[] = [];
  for (let w = 0; w < 12; w++) words.push(pick(rand, WORDS));
  return {
    _id: docId(i),
    name: `${pick(rand, NAMES)} ${pick(rand, NAMES)}son`,
    city: pick(rand, CITIES),
    age: 18 + Math.floor(rand() * 70),
    tags: [pick(rand, TAGS), pick(rand, TAGS), pick(rand, TAGS)],
    active: rand() < 0.5,
    text: words.join(' '),
  };
}

/** Documents `from` .. `from + n - 1`. */
export function makeDocs(n: number, seed = 42, from = 0): BenchDoc[] {
  return Array.from({ length: n }, (_, k) => makeDoc(from + k, seed));
}

/** `count` random indices in [0, n), the same sequence for a given seed. */
export function randomIndices(count: number, n: number, seed: number): number[] {
  const rand = prng(seed);
  return Array.from({ length: count }, () => Math.floor(rand() * n));
}

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

/** Workload size: BENCH_DOCS documents (default 100,000), BENCH_OPS gets/updates (default 10,000). */
export function workloadSize(): { docs: number; ops: number; batch: number } {
  return { docs: envInt('BENCH_DOCS', 100_000), ops: envInt('BENCH_OPS', 10_000), batch: 1000 };
}
