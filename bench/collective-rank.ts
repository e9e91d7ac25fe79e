// One rank of bench/collective.ts: a small all-reduce timed back to back and
// right after --compute-ms of matrix products, on a process group from torchrun's
// variables; with --pin, on its own CPU first (src/dist/affinity.ts). Rank 0
// prints {"backToBack": ms, "afterCompute": ms, "computeMs": ms} (means).
import { parseArgs } from 'node:util';
import { pinRank } from '../src/dist/affinity.js';
import { distSettings } from '../src/dist/env.js';
import { ProcessGroup } from '../src/dist/group.js';
import { randn, setNumThreads, tidy, zeros } from '../src/tensor/index.js';

const { values } = parseArgs({
  options: { iters: { type: 'string' }, 'compute-ms': { type: 'string' }, pin: { type: 'boolean' } },
});
const iters = Number(values.iters ?? 200);
const computeMs = Number(values['compute-ms'] ?? 6);
setNumThreads(1);
const s = distSettings({ launcher: 'auto', backend: 'gloo', timeoutSeconds: 120 });
if (s === null) throw new Error('bench/collective-rank.ts runs under a launcher (bench/collective.ts starts it)');
const g = ProcessGroup.init(s);
if (values.pin) pinRank(s.localRank, 1);
const t = zeros([16]);
const [a, b] = [randn([128, 256]), randn([256, 256])];

/** Mean ms of an all-reduce over `iters` (after a warm-up of 20), with `work` before each. */
function time(work: () => void): { reduce: number; work: number } {
  let [reduce, busy] = [0, 0];
  for (let i = 0; i < iters + 20; i++) {
    const t0 = performance.now();
    work();
    const t1 = performance.now();
    g.allReduce(t);
    if (i >= 20) [busy, reduce] = [busy + t1 - t0, reduce + performance.now() - t1];
  }
  return { reduce: reduce / iters, work: busy / iters };
}
// NOTE: products until the time is up, so that both ranks arrive together give or take one product (~0.2 ms)
const compute = (): void => {
  const end = performance.now() + computeMs;
  while (performance.now() < end) tidy(() => void a.matmul(b).sum().item());
};
const backToBack = time(() => {}).reduce;
const after = time(compute);
g.barrier();
if (g.rank === 0) console.log(JSON.stringify({ backToBack, afterCompute: after.reduce, computeMs: after.work }));
g.destroy();
