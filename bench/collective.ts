// bench/collective: what one small Gloo all-reduce (16 floats) costs on this
// machine, 2 ranks x 1 thread on 127.0.0.1, back to back and right after a few
// ms of compute, with the ranks unpinned and pinned (--pin-cpus's policy) in
// alternating rounds of one invocation. After compute is what SyncBatchNorm and
// the sharded cascade meet: with no spare core, a collective's helper threads
// (Gloo's worker and network loop) can wait behind another rank's busy thread.
// Reported: mean ms per all-reduce of each run, median and [min, max] over the
// rounds, to bench/results/collective.json.
//
//   node --import tsx bench/collective.ts [--rounds 5] [--iters 200] [--compute-ms 6]
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runRanks } from '../src/dist/local.js';
import { benchOptions, checkRuns, spread, summary } from './stats.js';

const opts = benchOptions({ rounds: 5, iters: 200, 'compute-ms': 6 }, { out: 'bench/results/collective.json' });
const RANK = join(dirname(fileURLToPath(import.meta.url)), 'collective-rank.ts');
interface Run {
  backToBack: number;
  afterCompute: number;
  computeMs: number;
}
const sides = { unpinned: [] as Run[], pinned: [] as Run[] };

async function run(pin: boolean): Promise<Run> {
  const args = [RANK, '--iters', String(opts.iters), '--compute-ms', String(opts['compute-ms']), ...(pin ? ['--pin'] : [])];
  const ranks = await runRanks(2, () => args, { execArgv: ['--import', 'tsx'] });
  checkRuns(ranks, `bench/collective (${pin ? 'pinned' : 'unpinned'})`);
  return JSON.parse(ranks[0]!.stdout.trim()) as Run;
}

const loadBefore = os.loadavg()[0] as number;
for (let round = 0; round < opts.rounds; round++)
  for (const pin of round % 2 === 0 ? [false, true] : [true, false]) {
    const r = await run(pin);
    sides[pin ? 'pinned' : 'unpinned'].push(r);
    console.error(
      `round ${round + 1} ${pin ? 'pinned' : 'unpinned'}: ${r.backToBack.toFixed(3)} ms back to back, ` +
        `${r.afterCompute.toFixed(3)} ms after ${r.computeMs.toFixed(1)} ms of compute`,
    );
  }
const loadAfter = os.loadavg()[0] as number;

console.log(`| ranks | all-reduce back to back, ms | all-reduce after ${opts['compute-ms']} ms of compute, ms |`);
console.log('|---|---|---|');
for (const [name, runs] of Object.entries(sides))
  console.log(
    `| ${name} | ${spread(
      runs.map((r) => r.backToBack),
      3,
    )} | ${spread(
      runs.map((r) => r.afterCompute),
      3,
    )} |`,
  );
console.log(`load average (1 min): ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after, on ${os.cpus().length} CPUs`);
mkdirSync(dirname(opts.out), { recursive: true });
const summaries = Object.fromEntries(
  Object.entries(sides).map(([k, runs]) => [
    k,
    { runs, backToBack: summary(runs.map((r) => r.backToBack)), afterCompute: summary(runs.map((r) => r.afterCompute)) },
  ]),
);
const record = {
  date: new Date().toISOString(),
  options: opts,
  cpus: os.cpus().length,
  loadAverage: { before: loadBefore, after: loadAfter },
};
writeFileSync(opts.out, JSON.stringify({ ...record, ...summaries }, null, 2) + '\n');
console.log(`wrote ${opts.out}`);
