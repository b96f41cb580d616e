// Progress on stderr for long CLI work: a redrawn bar (bytes done/total, files, rate, ETA) when
// stderr is a terminal, otherwise a plain line every few seconds; nothing with --json or --quiet.

export interface ProgressState {
  bytes: number;
  totalBytes?: number;
  files: number;
  totalFiles?: number;
  /** Bytes per second. */
  rate: number;
  done: boolean;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/** One line describing the state (also used for the non-TTY lines). */
export function progressLine(label: string, p: ProgressState, width = 24): { bar: string; text: string } {
  const total = p.totalBytes ?? 0;
  const frac = total > 0 ? Math.min(1, p.bytes / total) : p.done ? 1 : 0;
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%`;
  const eta = p.rate > 0 && total > 0 ? formatEta((total - p.bytes) / p.rate) : '--:--';
  const text =
    `${label} ${formatBytes(p.bytes)}${total ? ` / ${formatBytes(total)}` : ''}` +
    `, ${p.files}${p.totalFiles !== undefined ? `/${p.totalFiles}` : ''} files, ${formatBytes(p.rate)}/s` +
    (p.done ? '' : `, ETA ${eta}`);
  return { bar, text };
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Disable all output. */
  quiet?: boolean;
  /** Least ms between two plain lines (non-TTY); default 2000. */
  lineIntervalMs?: number;
}

/** A callback to feed with progress; call `end()` once done. */
export function progressReporter(label: string, options: ProgressOptions = {}): { update: (p: ProgressState) => void; end: () => void } {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const interval = options.lineIntervalMs ?? 2000;
  let lastLine = 0;
  let drawn = false;
  let last: ProgressState | undefined;
  const update = (p: ProgressState): void => {
    last = p;
    if (options.quiet) return;
    const { bar, text } = progressLine(label, p);
    if (tty) {
      const cols = stream.columns ?? 100;
      stream.write(`\r\x1b[K${`${bar} ${text}`.slice(0, Math.max(10, cols - 1))}`);
      drawn = true;
      return;
    }
    const now = Date.now();
    if (p.done || now - lastLine >= interval) {
      lastLine = now;
      stream.write(`${text}\n`);
    }
  };
  return {
    update,
    end: () => {
      if (options.quiet) return;
      if (tty && drawn) stream.write('\n');
      else if (!tty && last && !last.done) stream.write(`${progressLine(label, { ...last, done: true }).text}\n`);
    },
  };
}
