// Progress reporting for long work: a redrawn bar with throughput and ETA on a
// TTY, plain periodic lines otherwise (CI logs, pipes).

export interface ProgressOptions {
  /** What is being counted, e.g. 'batches' or 'points'. */
  unit?: string;
  /** Stream to write to (default: stderr, so stdout stays machine-readable). */
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between non-TTY lines (default 10 s). */
  plainEveryMs?: number;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private extra = '';
  private drawnAt = -1; // `done` at the last draw

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
  }

  /** Advances by n units; `info` is shown after the bar (e.g. 'loss 0.41'). */
  tick(n = 1, info?: string): void {
    this.done += n;
    if (info !== undefined) this.extra = info;
    const now = performance.now();
    const every = this.tty ? 100 : (this.opts.plainEveryMs ?? 10_000);
    if (now - this.lastDraw >= every || this.done >= this.total) {
      this.lastDraw = now;
      this.draw(now);
    }
  }

  /** Ends the bar with a final line. */
  finish(info?: string): void {
    if (info !== undefined) this.extra = info;
    if (this.tty || this.drawnAt !== this.done || info !== undefined) this.draw(performance.now());
    if (this.tty) this.stream.write('\n');
  }

  private draw(now: number): void {
    this.drawnAt = this.done;
    const elapsed = (now - this.start) / 1000;
    const rate = this.done / Math.max(elapsed, 1e-9);
    const eta = (this.total - this.done) / rate;
    const unit = this.opts.unit ?? 'it';
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const stats = `${this.done}/${this.total} ${unit} ${rate.toFixed(1)} ${unit}/s elapsed ${formatSeconds(elapsed)} eta ${formatSeconds(eta)}`;
    if (this.tty) {
      const width = 24;
      const fill = Math.round(frac * width);
      const bar = '█'.repeat(fill) + '░'.repeat(width - fill);
      this.stream.write(`\r\x1b[2K${this.label} ${bar} ${(frac * 100).toFixed(0)}% ${stats} ${this.extra}`);
    } else {
      this.stream.write(`${this.label}: ${(frac * 100).toFixed(0)}% ${stats} ${this.extra}\n`);
    }
  }
}
