// Peak resident set size of the whole process, sampled on a 50 ms timer while a phase runs.

export class RssSampler {
  /** RSS in MB when sampling started, to tell the phase's growth from the process baseline. */
  readonly startMb = process.memoryUsage.rss() / (1024 * 1024);
  private peak = process.memoryUsage.rss();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) this.peak = rss;
  }

  /** Stops sampling and returns the peak in MB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak / (1024 * 1024);
  }
}
