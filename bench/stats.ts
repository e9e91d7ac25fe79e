// Small statistics, option and peer-process helpers shared by the benchmarks.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { getNumThreads } from '../src/tensor/index.js';

/** What benchOptions returns: numbers, strings with a default, possibly-undefined strings without one. */
export type BenchOptionValues<N extends string, S> = Record<N, number> & {
  [K in keyof S]: undefined extends S[K] ? string | undefined : string;
};

/**
 * The bench's command-line options: `numbers` are numeric --options with their
 * defaults (a value that is not a number is an error), `strings` string ones
 * (a string default, or undefined for none: then the result may be undefined).
 *
 *     const { rounds, threads, out } = benchOptions({ rounds: 3, threads: 1 }, { out: 'results/x.json' });
 */
export function benchOptions<N extends string, S extends Record<string, string | undefined> = Record<never, never>>(
  numbers: Record<N, number>,
  strings: S = {} as S,
  argv: readonly string[] = process.argv.slice(2),
): BenchOptionValues<N, S> {
  const options: Record<string, { type: 'string'; default?: string }> = {};
  for (const [k, v] of Object.entries<number>(numbers)) options[k] = { type: 'string', default: String(v) };
  for (const [k, v] of Object.entries<string | undefined>(strings))
    options[k] = v === undefined ? { type: 'string' } : { type: 'string', default: v };
  const { values } = parseArgs({ args: [...argv], options });
  const out: Record<string, number | string | undefined> = {};
  for (const k of Object.keys(numbers)) {
    const v = Number(values[k]);
    if (!Number.isFinite(v)) throw new Error(`--${k} must be a number, got '${String(values[k])}'`);
    out[k] = v;
  }
  for (const k of Object.keys(strings)) out[k] = values[k] as string | undefined;
  return out as BenchOptionValues<N, S>;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Median and the spread as [min, max] and the interquartile range. */
export function summary(xs: readonly number[]): { median: number; min: number; max: number; iqr: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))] as number;
  return { median: median(s), min: s[0] as number, max: s[s.length - 1] as number, iqr: q(0.75) - q(0.25) };
}

/** "median (min–max)" of xs, each with `digits` decimals: the spread a table cell shows. */
export function spread(xs: readonly number[], digits = 2): string {
  const s = summary(xs);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** Throws, with the tail of its stderr, when a child process (a rank) did not exit 0. */
export function checkRuns(runs: readonly { rank: number; code: number | null; stderr: string }[], what: string): void {
  const bad = runs.find((r) => r.code !== 0);
  if (bad) throw new Error(`${what}: rank ${bad.rank} exited ${bad.code}\n${bad.stderr.slice(-2000)}`);
}

/** Times `fn` as seconds per iteration for each of `repeats` repeats of `iters` calls, after `warmup` calls. */
export function timed(fn: () => void, iters: number, repeats: number, warmup: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
    out.push((performance.now() - t0) / 1000 / iters);
  }
  return out;
}

/**
 * Runs a PyTorch peer script with Debian's interpreter (the one with torch) and parses its JSON stdout.
 * NOTE: the peer's OpenBLAS pool gets carso's thread count through OPENBLAS_NUM_THREADS, as PyTorch's
 * set_num_threads does not govern it (carso's setNumThreads does): both sides run as many threads.
 */
export function runPeer<T>(script: string, args: readonly string[]): T {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(getNumThreads()) };
  const out = execFileSync('/usr/bin/python3', [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  return JSON.parse(out) as T;
}

/** One table row: carso vs PyTorch medians and the ratio. */
export function ratioRow(name: string, carso: readonly number[], torch: readonly number[]): string {
  const c = summary(carso);
  const t = summary(torch);
  const ms = (v: number): string => (v * 1000).toFixed(2);
  return `| ${name} | ${ms(c.median)} (${ms(c.min)}–${ms(c.max)}) | ${ms(t.median)} (${ms(t.min)}–${ms(t.max)}) | ${(c.median / t.median).toFixed(3)} |`;
}
