// Runs a script as K local ranks over Gloo on 127.0.0.1 (torchrun's variables
// set by hand) and collects what each printed and how it ended.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface RankRun {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
}

/** A TCP port that was free a moment ago (the rendezvous binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** torchrun's variables for one rank of `size` on this machine. */
export function rankEnv(rank: number, size: number, port: number): Record<string, string> {
  return {
    RANK: String(rank),
    WORLD_SIZE: String(size),
    LOCAL_RANK: String(rank),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
  };
}

/** Node with tsx on `args` (a script and its arguments), with extra environment; resolves when it exits. */
export function runNode(
  args: readonly string[],
  env: Record<string, string>,
  rank = 0,
  onSpawn?: (c: ChildProcess) => void,
): Promise<RankRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code, signal) => resolve({ rank, code, signal, stdout, stderr, ms: performance.now() - t0 })),
  );
}

/** `size` ranks of `args(rank)`, side by side; resolves when all have exited. */
export async function runRanks(
  size: number,
  args: (rank: number) => readonly string[],
  o: { env?: Record<string, string>; onSpawn?: (rank: number, c: ChildProcess) => void } = {},
): Promise<RankRun[]> {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: size }, (_, r) =>
      runNode(args(r), { ...rankEnv(r, size, port), ...o.env }, r, (c) => o.onSpawn?.(r, c)),
    ),
  );
}

/** A failure message with every rank's output, for assertions. */
export function explain(runs: readonly RankRun[]): string {
  return runs.map((r) => `--- rank ${r.rank}: code ${r.code} signal ${r.signal}\n${r.stdout}\n${r.stderr}`).join('\n');
}
