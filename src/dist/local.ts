// K ranks of a Node program on this machine, as `torchrun --standalone
// --nproc-per-node K` would start them (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR=127.0.0.1, a free MASTER_PORT): for tests and benchmarks.
//
//     const runs = await runRanks(2, () => ['dist/cli/main.js', 'attack', ...]);
//     runs.every((r) => r.code === 0);
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

export interface RunOptions {
  /** Extra environment (on top of this process's, with OPENBLAS_NUM_THREADS=1). */
  env?: Record<string, string>;
  /** Node's own flags, e.g. ['--import', 'tsx'] to run TypeScript. */
  execArgv?: readonly string[];
  onSpawn?: (rank: number, c: ChildProcess) => void;
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

/** `command` with `args` (Node's own flags not added); resolves when it exits. */
export function runProcess(command: string, args: readonly string[], o: RunOptions = {}, rank = 0): Promise<RankRun> {
  const t0 = performance.now();
  const child = spawn(command, args, {
    // NOTE: one OpenBLAS thread: libtorch's thread setting does not govern OpenBLAS's own pool
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  o.onSpawn?.(rank, child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on('close', (code, signal) => resolve({ rank, code, signal, stdout, stderr, ms: performance.now() - t0 })),
  );
}

/** Node on `args` (a script and its arguments); resolves when it exits. */
export function runNode(args: readonly string[], o: RunOptions = {}, rank = 0): Promise<RankRun> {
  return runProcess(process.execPath, [...(o.execArgv ?? []), ...args], o, rank);
}

/** `size` ranks of `args(rank)` side by side; resolves when all have exited. */
export async function runRanks(size: number, args: (rank: number) => readonly string[], o: RunOptions = {}): Promise<RankRun[]> {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: size }, (_, r) => runNode(args(r), { ...o, env: { ...rankEnv(r, size, port), ...o.env } }, r)),
  );
}
