// bench/threads: what governing OpenBLAS's pool buys (issue 17), before and after
// in one invocation. Each side is a child process running bench/threads-loop.ts:
// the same CARSO gradient loop (shipped F-MNIST CARSO, batch 16, N = 8, carso's
// default 1 thread) timed in blocks that alternate idle / beside a CPU-bound
// process the child starts itself.
//   after    carso as it ships: libtorch's and OpenBLAS's pools at 1 thread
//   before   OpenBLAS's pool put back to one thread per core after carso set it,
//            as every process ran before carso governed it (libtorch's pool at 1)
// OPENBLAS_NUM_THREADS is removed from the children's environment (the users who
// met the problem had never heard of it). Reported: seconds per block, median and
// [min, max] over the pairs, and the busy / idle ratio, to bench/results/threads.json.
//
//   node --import tsx bench/threads.ts [--pairs 3] [--steps 20]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os, { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { benchOptions, summary } from './stats.js';

const opts = benchOptions({ pairs: 3, steps: 20 }, { out: 'bench/results/threads.json' });
type Timing = { carso: number; reference: number };
type Loop = { idle: Timing[]; busy: Timing[]; pools: Record<string, unknown> };

function loop(blasThreads: number | undefined): Loop {
  const env = { ...process.env };
  delete env['OPENBLAS_NUM_THREADS'];
  const args = ['--import', 'tsx', 'bench/threads-loop.ts', String(opts.pairs), String(opts.steps)];
  if (blasThreads !== undefined) args.push(String(blasThreads));
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`bench/threads-loop.ts failed (status ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as Loop;
}

const load = (): number => os.loadavg()[0] as number;
const before = load();
const sides = { after: loop(undefined), before: loop(Math.max(2, availableParallelism())) };
const results = Object.fromEntries(
  Object.entries(sides).map(([name, l]) => {
    const idle = l.idle.map((t) => t.carso);
    const busy = l.busy.map((t) => t.carso);
    const ratio = busy.map((b, i) => b / (idle[i] as number));
    return [name, { pools: l.pools, idle, busy, idleSummary: summary(idle), busySummary: summary(busy), ratio: summary(ratio) }];
  }),
);
const report = {
  date: new Date().toISOString(),
  options: opts,
  cpus: availableParallelism(),
  cpu: os.cpus()[0]?.model ?? 'unknown',
  loadAverage: { before, after: load() },
  results,
};
mkdirSync(dirname(opts.out), { recursive: true });
writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
console.log(`CARSO gradient loop, ${opts.steps} steps per block, ${opts.pairs} pairs (seconds, median [min, max])`);
for (const [name, r] of Object.entries(results)) {
  const f = (s: { median: number; min: number; max: number }): string =>
    `${s.median.toFixed(2)} [${s.min.toFixed(2)}, ${s.max.toFixed(2)}]`;
  console.log(`${name.padEnd(7)} idle ${f(r.idleSummary)}  busy ${f(r.busySummary)}  busy/idle ${f(r.ratio)}`);
}
console.log(`load average ${before.toFixed(2)} -> ${load().toFixed(2)}; written to ${opts.out}`);
