// Figure lines for `npm run bench` (one JSON object per line on stdout) and a tiny timing helper.
// Suites describe themselves with the Suite shape so main.ts can filter them by name prefix.

export interface Figure {
  bench: string;
  unit: string;
  refuge: number;
  anchor: string;
  anchorValue: number;
  /** false for latency-like units: the ratio becomes anchor/refuge so higher stays better. */
  higherIsBetter?: boolean;
}

export type Emit = (figure: Figure) => void;

export interface Suite {
  /** Every figure name this suite can produce; main.ts skips the suite when none match. */
  readonly figures: readonly string[];
  /** Runs the suite; `wants` says which figures were asked for, `emit` prints one line. */
  run(wants: (name: string) => boolean, emit: Emit): Promise<void>;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Rounds a measured value for display: integers for big numbers, 2 decimals below 100. */
export function roundValue(x: number): number {
  return Math.abs(x) >= 100 ? Math.round(x) : round2(x);
}

export function formatLine(f: Figure): string {
  const ratio = f.higherIsBetter === false ? f.anchorValue / f.refuge : f.refuge / f.anchorValue;
  return JSON.stringify({
    bench: f.bench,
    unit: f.unit,
    refuge: roundValue(f.refuge),
    anchor: f.anchor,
    anchor_value: roundValue(f.anchorValue),
    ratio: Number.isFinite(ratio) ? round2(ratio) : null,
  });
}

/** Runs `fn` once and returns its wall-clock duration in milliseconds with its value. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** The middle value (the upper one of an even count): what a figure quotes from several rounds. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Operations per second for `count` operations done in `ms` milliseconds. */
export const perSecond = (count: number, ms: number): number => (count * 1000) / ms;

/** Diagnostics go to stderr so stdout stays one JSON line per figure. */
export function note(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Collects garbage between phases when node runs with --expose-gc. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
