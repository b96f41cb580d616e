// Peak resident set size of the whole process, sampled on a 50 ms timer while a phase runs.

import { readFileSync } from 'node:fs';

/** Anonymous (heap, native buffers) and file-backed (mmap'd table files) RSS in MB, where /proc has them. */
function rssSplitMb(): { anon: number; file: number } | undefined {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
    const split = { anon: field('RssAnon'), file: field('RssFile') };
    return Number.isNaN(split.anon) || Number.isNaN(split.file) ? undefined : split;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  /** RSS in MB when sampling started, to tell the phase's growth from the process baseline. */
  readonly startMb = process.memoryUsage.rss() / (1024 * 1024);
  private peak = process.memoryUsage.rss();
  /** What the peak was made of, when the platform tells. */
  peakSplitMb: { anon: number; file: number } | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) {
      this.peak = rss;
      this.peakSplitMb = rssSplitMb();
    }
  }

  /** Stops sampling and returns the peak in MB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak / (1024 * 1024);
  }
}
