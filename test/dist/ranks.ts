// Local ranks for the tests: src/dist/local.ts running TypeScript through tsx.
import { runNode as run, runRanks as ranks, type RankRun, type RunOptions } from '../../src/dist/local.js';

export type { RankRun } from '../../src/dist/local.js';

const TSX = ['--import', 'tsx'];

/** One process (no launcher variables unless given in env). */
export const runNode = (args: readonly string[], env: Record<string, string> = {}): Promise<RankRun> =>
  run(args, { env, execArgv: TSX });

/** `size` local ranks over Gloo on 127.0.0.1. */
export const runRanks = (size: number, args: (rank: number) => readonly string[], o: RunOptions = {}): Promise<RankRun[]> =>
  ranks(size, args, { ...o, execArgv: TSX });

/** A failure message with every rank's output, for assertions. */
export function explain(runs: readonly RankRun[]): string {
  return runs.map((r) => `--- rank ${r.rank}: code ${r.code} signal ${r.signal}\n${r.stdout}\n${r.stderr}`).join('\n');
}
