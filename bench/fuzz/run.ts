// The fuzzer's parent: runs inputs of a format in child processes (worker.ts),
// a batch per child, and counts what happened to each input. A child that dies
// mid-input (native abort, signal) counts that input as crashed; one that does
// not finish an input within the timeout is killed and the input counted as
// hung; a child whose resident memory passes `maxRssBytes` is killed and the
// input counted as over memory. The next child resumes after that input.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerMessage } from './worker.js';

export interface FuzzOptions {
  /** Inputs 0..n-1. */
  n: number;
  seed: number;
  /** Inputs per child process. */
  batch?: number;
  /** Per input, milliseconds (default 20 s: a loaded 2-core machine is slow). */
  timeoutMs?: number;
  /** Allowed peak memory growth of one load: `base` + `perByte` x input bytes (default 32 MB + 16 x). */
  memory?: { base: number; perByte: number };
  /** A child above this resident size is killed (default 2 GB): an input allocating without bound. */
  maxRssBytes?: number;
}

export interface FuzzCounts {
  format: string;
  inputs: number;
  loaded: number;
  rejected: number;
  /** Threw something that does not name the file. */
  unnamed: number;
  crashed: number;
  hung: number;
  /** Peak memory growth above the allowance (or the child killed for memory). */
  overMemory: number;
  /** Largest peak growth of one load, as a multiple of its input's size, and in bytes. */
  maxGrowthRatio: number;
  maxGrowthBytes: number;
  seconds: number;
  /** The first few failures: input index, kind, message. */
  failures: { index: number; kind: string; message: string }[];
}

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Keeps the first 20 failures of a format, each message cut to 400 characters. */
function recordFailure(c: FuzzCounts, index: number, kind: string, message: string): void {
  if (c.failures.length < 20) c.failures.push({ index, kind, message: message.slice(0, 400) });
}

/** Runs inputs [from, to) of `format` in one child; resolves with the index to continue from. */
function runChild(
  format: string,
  o: Required<FuzzOptions>,
  from: number,
  to: number,
  c: FuzzCounts,
  scratch: string,
  suspects: number[],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [format, String(o.seed), String(from), String(to - from), scratch], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let current: number | null = null;
    let next = from;
    let killedFor: 'hung' | 'overMemory' | null = null;
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const fail = (index: number, kind: string, message: string): void => recordFailure(c, index, kind, message);
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const watch = setInterval(() => {
      if (child.pid !== undefined && rssOf(child.pid) > o.maxRssBytes && killedFor === null) {
        killedFor = 'overMemory';
        child.kill('SIGKILL');
      }
    }, 100);
    child.on('message', (m: WorkerMessage) => {
      clearTimeout(timer);
      if (m.kind === 'start') {
        current = m.index;
        timer = setTimeout(() => ((killedFor = 'hung'), child.kill('SIGKILL')), o.timeoutMs);
        return;
      }
      current = null;
      next = m.index + 1;
      c[m.outcome!]++;
      if (m.outcome === 'unnamed') fail(m.index, 'unnamed', m.message ?? '');
      const allowed = o.memory.base + o.memory.perByte * m.bytes!;
      // NOTE: an input over the allowance is measured again alone in a fresh process (fuzzFormat): in a
      // long-lived worker V8 may grow its own heap during any input (measured: 36 MB charged to a
      // 173-byte JPEG that takes 20 KB alone), which is not the input's cost.
      if (m.growthBytes! > allowed) return void suspects.push(m.index);
      c.maxGrowthBytes = Math.max(c.maxGrowthBytes, m.growthBytes!);
      c.maxGrowthRatio = Math.max(c.maxGrowthRatio, m.growthBytes! / Math.max(1, m.bytes!));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(watch);
      if (current === null && next < to)
        return reject(
          new Error(`fuzz worker for ${format} stopped at input ${next} of [${from}, ${to}) (exit ${code ?? signal}): ${stderr}`),
        );
      if (current === null) return resolve(to);
      const kind = killedFor === 'hung' ? 'hung' : killedFor === 'overMemory' ? 'overMemory' : 'crashed';
      c[kind]++;
      fail(current, kind, `exit ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      resolve(current + 1);
    });
  });
}

/** Runs inputs 0..n-1 of `format`; counts per outcome. */
export async function fuzzFormat(format: string, opts: FuzzOptions): Promise<FuzzCounts> {
  const o: Required<FuzzOptions> = {
    batch: 500,
    timeoutMs: 20_000,
    memory: { base: 32 * 2 ** 20, perByte: 16 },
    maxRssBytes: 2 * 2 ** 30,
    ...opts,
  };
  const c: FuzzCounts = {
    format,
    inputs: o.n,
    loaded: 0,
    rejected: 0,
    unnamed: 0,
    crashed: 0,
    hung: 0,
    overMemory: 0,
    maxGrowthRatio: 0,
    maxGrowthBytes: 0,
    seconds: 0,
    failures: [],
  };
  const scratch = mkdtempSync(join(tmpdir(), `carso-fuzz-${format}-`));
  const t0 = performance.now();
  try {
    const suspects: number[] = [];
    for (let at = 0; at < o.n;) at = await runChild(format, o, at, Math.min(o.n, at + o.batch), c, scratch, suspects);
    for (const i of suspects) {
      const again: number[] = [];
      const alone = { ...c, loaded: 0, rejected: 0, unnamed: 0, failures: [] };
      await runChild(format, o, i, i + 1, alone, scratch, again);
      [c.maxGrowthBytes, c.maxGrowthRatio] = [alone.maxGrowthBytes, alone.maxGrowthRatio];
      if (again.length === 0) continue;
      c.overMemory++;
      recordFailure(c, i, 'overMemory', 'over the allowance, also alone');
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  c.seconds = (performance.now() - t0) / 1000;
  return c;
}
