// bench/dist: what a second process buys, measured through the commands
// themselves (src/cli/main.ts through tsx), 1 rank x 1 thread against
// 2 ranks x 1 thread (Gloo on 127.0.0.1, torchrun's variables), alternating
// within each round so that machine noise hits both sides:
//   aa          `carso attack` AutoAttack standard, eps 0.1, on the shipped PGD-AT
//               Fashion-MNIST classifier, the first --aa-n test points in batches of
//               --aa-batch: the cascade's seconds (result.json) and points per second
//   train       `carso train` PGD-AT (3 steps, eps 0.1, Adam), fmnist-cnn, one epoch of
//               --train-steps global batches of --train-batch: seconds per step
//   purifier    `carso train-purifier` on the shipped classifier (SyncBatchNorm over the
//               ranks), one epoch of --purifier-steps global batches of --purifier-batch
// The speed-up of a round is (1-rank time) / (2-rank time). Its peer is the
// machine's own ceiling: two independent 1-rank runs side by side (no process
// group, each doing the whole 1-rank work), ceiling = 2 x (1-rank time) / (the
// slower one's time): what a second process can add on these cores at all
// (shared caches, memory bandwidth, vCPUs). Reported: medians and [min, max] over
// the rounds, with the load average before and after, to bench/results/dist.json
// and a table on stdout. The two sides give the same results (test/dist): only
// the time differs.
//
// --pin on (the default) runs every side with --pin-cpus (the two independent
// runs under taskset, one CPU each), off runs none pinned: on 2 cores pinning is
// what keeps a collective from waiting a scheduler slice (src/dist/affinity.ts).
// Sizes: a sharded cascade loses the last round of an attack whose batch count
// is odd (96 points in batches of 8: 10-12 batches per attack; 32 points gave
// 4, with a last batch of 2), and a short epoch is mostly start-up noise.
//
//   node --import tsx bench/dist.ts [--rounds 3] [--aa-n 96] [--aa-batch 8] [--train-steps 30] [--train-batch 128]
//                                   [--purifier-steps 12] [--purifier-batch 256] [--only aa,train,purifier] [--pin on|off]
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNode, runProcess, runRanks, type RankRun, type RunOptions } from '../src/dist/local.js';
import { benchOptions, checkRuns, spread, summary } from './stats.js';

const opts = benchOptions(
  {
    rounds: 3,
    'aa-n': 96,
    'aa-batch': 8,
    'train-steps': 30,
    'train-batch': 128,
    'purifier-steps': 12,
    'purifier-batch': 256,
  },
  { only: 'aa,train,purifier', out: 'bench/results/dist.json', pin: 'on' },
);
if (opts.pin !== 'on' && opts.pin !== 'off') throw new Error(`--pin must be on or off, got '${opts.pin}'`);
const PIN = opts.pin === 'on';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLASSIFIER = join(ROOT, 'models', 'fmnist-cnn-pgd-at', 'model.safetensors');
const RUN: RunOptions = { execArgv: ['--import', 'tsx'] };
const tmp = mkdtempSync(join(tmpdir(), 'carso-bench-dist-'));

interface Workload {
  name: string;
  /** The command's arguments for an output folder. */
  args: (out: string) => string[];
  /** Seconds of the measured work, read from what rank 0 wrote. */
  seconds: (out: string) => number;
  /** Units of work per run (points, steps), for the rate. */
  units: number;
  unit: string;
}

const lines = (file: string): Record<string, number>[] =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);

const ALL: Workload[] = [
  {
    name: 'aa',
    args: (out) =>
      ['attack', '--model', CLASSIFIER, '--attack', 'autoattack', '--eps', '0.1', '--n', String(opts['aa-n'])].concat([
        '--batch-size',
        String(opts['aa-batch']),
        '--threads',
        '1',
        '--out',
        out,
      ]),
    seconds: (out) => (JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { seconds: number }).seconds,
    units: opts['aa-n'],
    unit: 'points',
  },
  {
    name: 'train',
    args: (out) =>
      ['train', '--model', 'fmnist-cnn', '--method', 'pgd-at', '--steps', '3', '--eps', '0.1', '--optimizer', 'adam'].concat(
        ['--lr', '0.002', '--weight-decay', '0', '--epochs', '1', '--batch-size', String(opts['train-batch'])],
        ['--limit', String(opts['train-batch'] * opts['train-steps']), '--val-size', '0', '--val-pgd-size', '0'],
        ['--test-points', '16'],
        ['--threads', '1', '--out', out],
      ),
    seconds: (out) => (lines(join(out, 'metrics.jsonl'))[0] as { seconds: number }).seconds,
    units: opts['train-steps'],
    unit: 'steps',
  },
  {
    name: 'purifier',
    args: (out) =>
      ['train-purifier', '--classifier-weights', CLASSIFIER, '--epochs', '1'].concat(
        ['--batch-size', String(opts['purifier-batch']), '--limit', String(opts['purifier-batch'] * opts['purifier-steps'])],
        ['--threads', '1', '--out', out],
      ),
    seconds: (out) => (lines(join(out, 'metrics.jsonl'))[0] as { seconds: number }).seconds,
    units: opts['purifier-steps'],
    unit: 'steps',
  },
];
const WORKLOADS = ALL.filter((w) => opts.only.split(',').includes(w.name));

type Side = 1 | 2 | 'pair';

/** One side of a round: the measured seconds (pair: the slower run's) and the wall time of the whole command. */
async function side(w: Workload, mode: Side, round: number): Promise<{ seconds: number; wall: number }> {
  const out = (i: number): string => join(tmp, `${w.name}-${mode}-${round}-${i}`);
  const args = (i: number): string[] => ['src/cli/main.ts', ...w.args(out(i)), ...(PIN && mode !== 'pair' ? ['--pin-cpus'] : [])];
  // NOTE: two independent runs would both take CPU 0 with --pin-cpus (each is local rank 0): taskset gives each its own
  const pair = (i: number): Promise<RankRun> =>
    PIN
      ? runProcess('taskset', ['-c', String(i), process.execPath, ...(RUN.execArgv ?? []), ...args(i)], RUN, i)
      : runNode(args(i), RUN, i);
  const runs =
    mode === 1
      ? [await runNode(args(0), RUN)]
      : mode === 2
        ? await runRanks(2, () => args(0), RUN)
        : await Promise.all([0, 1].map(pair));
  checkRuns(runs, `${w.name} (${mode === 'pair' ? '2 independent processes' : `${mode} rank(s)`})`);
  const outs = mode === 'pair' ? [0, 1] : [0];
  const seconds = Math.max(...outs.map((i) => w.seconds(out(i))));
  for (const i of outs) rmSync(out(i), { recursive: true, force: true });
  return { seconds, wall: Math.max(...runs.map((r) => r.ms)) / 1000 };
}

const loadBefore = os.loadavg()[0] as number;
interface Rounds {
  one: number[];
  two: number[];
  pair: number[];
  wallOne: number[];
  wallTwo: number[];
  speedup: number[];
  ceiling: number[];
  ofCeiling: number[];
}
const results: Record<string, Rounds> = {};
for (const w of WORKLOADS)
  results[w.name] = { one: [], two: [], pair: [], wallOne: [], wallTwo: [], speedup: [], ceiling: [], ofCeiling: [] };
for (let round = 0; round < opts.rounds; round++)
  for (const w of WORKLOADS) {
    const r = results[w.name]!;
    // NOTE: alternate which side goes first, so a load change within a round does not favour one side
    const order: Side[] = round % 2 === 0 ? [1, 2, 'pair'] : ['pair', 2, 1];
    const got = new Map<Side, { seconds: number; wall: number }>();
    for (const mode of order) got.set(mode, await side(w, mode, round));
    const [one, two, pair] = [got.get(1)!, got.get(2)!, got.get('pair')!];
    r.one.push(one.seconds);
    r.two.push(two.seconds);
    r.pair.push(pair.seconds);
    r.wallOne.push(one.wall);
    r.wallTwo.push(two.wall);
    const [speedup, ceiling] = [one.seconds / two.seconds, (2 * one.seconds) / pair.seconds];
    r.speedup.push(speedup);
    r.ceiling.push(ceiling);
    r.ofCeiling.push(speedup / ceiling);
    console.error(
      `round ${round + 1}: ${w.name} 1 rank ${one.seconds.toFixed(1)} s, 2 ranks ${two.seconds.toFixed(1)} s, ` +
        `2 independent ${pair.seconds.toFixed(1)} s`,
    );
  }
const loadAfter = os.loadavg()[0] as number;
rmSync(tmp, { recursive: true, force: true });

const f = (v: number, d = 2): string => v.toFixed(d);
console.log(
  `| workload | 1 rank x 1 thread, s | 2 ranks x 1 thread, s | speed-up (2 ranks / 1) | ceiling (2 independent) | speed-up / ceiling | rate 1 → 2 ranks |`,
);
console.log(`|---|---|---|---|---|---|---|`);
for (const w of WORKLOADS) {
  const r = results[w.name]!;
  const [m1, m2] = [summary(r.one).median, summary(r.two).median];
  console.log(
    `| ${w.name} | ${spread(r.one, 1)} | ${spread(r.two, 1)} | ${spread(r.speedup)} | ${spread(r.ceiling)} | ${spread(r.ofCeiling)} | ` +
      `${f(w.units / m1, 3)} → ${f(w.units / m2, 3)} ${w.unit}/s |`,
  );
}
console.log(
  `load average (1 min): ${f(loadBefore)} before, ${f(loadAfter)} after, on ${os.cpus().length} CPUs; --pin ${opts.pin}`,
);
mkdirSync(dirname(opts.out), { recursive: true });
writeFileSync(
  opts.out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      options: opts,
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      loadAverage: { before: loadBefore, after: loadAfter },
      workloads: Object.fromEntries(
        WORKLOADS.map((w) => {
          const r = results[w.name]!;
          const sums = {
            speedupSummary: summary(r.speedup),
            ceilingSummary: summary(r.ceiling),
            ofCeilingSummary: summary(r.ofCeiling),
          };
          return [w.name, { ...r, units: w.units, unit: w.unit, ...sums }];
        }),
      ),
    },
    null,
    2,
  ) + '\n',
);
console.log(`wrote ${opts.out}`);
