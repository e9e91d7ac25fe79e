// bench/attacks: APGD-CE (100 iterations, Linf eps 0.1, 1 restart, batches of
// 250 as AutoAttack runs it) on the first n Fashion-MNIST test images with the
// reference CNN, carso vs a PyTorch loop of the same algorithm
// (attacks_peer.py, written from attacks.md §4.3), alternating rounds in one
// invocation, single thread each. Then AutoAttack 'standard' (carso) on a few
// points: seconds per point, per attack.
//
// Weights: a seeded random init (saved for the peer), or --weights FILE. With
// random weights the labels are the model's own clean predictions, so every
// point is attacked (with real weights: the data set's labels).
//
//   node --import tsx bench/attacks.ts [--n 1000] [--rounds 3] [--aa-n 20] [--weights model.safetensors]
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APGD, asModel } from '../src/attacks/index.js';
import { predict } from '../src/attacks/common.js';
import { loadDataset, makeBatch } from '../src/data/index.js';
import { range } from '../src/eval/accuracy.js';
import { runAutoAttack } from '../src/eval/autoattack.js';
import { loadModule, saveModule } from '../src/io/index.js';
import { ReferenceCNN } from '../src/models/index.js';
import { dispose, getNumThreads, manualSeed, setNumThreads, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { benchOptions, ratioRow, runPeer, summary } from './stats.js';

const {
  n,
  rounds,
  threads,
  eps,
  iters,
  bs,
  seed,
  'aa-n': aaN,
  weights: weightsFile,
} = benchOptions({ n: 1000, rounds: 3, threads: 1, eps: 0.1, iters: 100, bs: 250, seed: 0, 'aa-n': 20 }, { weights: undefined });

setNumThreads(threads);
manualSeed(seed);
const net = new ReferenceCNN();
const weights = weightsFile ?? join(mkdtempSync(join(tmpdir(), 'carso-bench-')), 'reference-cnn.safetensors');
if (weightsFile !== undefined) loadModule(weights, net);
else saveModule(weights, net);
net.eval();
const model = asModel(net);

const ds = loadDataset('fashion-mnist', { split: 'test', limit: n });
const data = makeBatch(ds, range(0, ds.length));
const labels = weightsFile !== undefined ? 'data' : 'pred';
const batches: { x: Tensor; y: Tensor }[] = [];
for (let s = 0; s < n; s += bs) {
  const x = data.x.narrow(0, s, Math.min(bs, n - s));
  const y = labels === 'data' ? data.y.narrow(0, s, x.size(0)) : tensor(predict(model, x), [x.size(0)], 'int64');
  batches.push({ x, y });
}

const apgd = new APGD({ eps, norm: 'Linf', nIter: iters, nRestarts: 1, loss: 'ce', seed });
/** One pass over the n points: wall and CPU seconds, points still robust (decided by one forward pass, as AutoAttack). */
function carsoPass(): { seconds: number; cpu: number; robust: number } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let robust = 0;
  for (const b of batches)
    tidy(() => {
      const r = apgd.attack(model, b.x, b.y);
      const y = b.y.toArray();
      robust += predict(model, r.xAdv).filter((p, i) => p === y[i]).length;
    });
  const c = process.cpuUsage(c0);
  return { seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, robust };
}

// warm-up on both sides (the peer warms up inside its process)
tidy(() => new APGD({ eps, nIter: 5 }).attack(model, batches[0]!.x.narrow(0, 0, 10), batches[0]!.y.narrow(0, 0, 10)));
const peer = fileURLToPath(new URL('./attacks_peer.py', import.meta.url));
const peerArgs = ['--weights', weights, '--n', String(n), '--bs', String(bs), '--eps', String(eps), '--iters', String(iters)];
peerArgs.push('--seed', String(seed), '--labels', labels, '--threads', String(threads));
const wall = { carso: [] as number[], torch: [] as number[] };
const cpu = { carso: [] as number[], torch: [] as number[] };
let robust = { carso: 0, torch: 0, clean: 0 };
for (let r = 0; r < rounds; r++) {
  const p = runPeer<{ seconds: number[]; cpu: number[]; robust: number; clean: number }>(peer, peerArgs);
  wall.torch.push(...p.seconds);
  cpu.torch.push(...p.cpu);
  const c = carsoPass();
  wall.carso.push(c.seconds);
  cpu.carso.push(c.cpu);
  robust = { carso: c.robust, torch: p.robust, clean: p.clean };
}

console.log(
  `bench/attacks: APGD-CE (${iters} iterations, Linf eps ${eps}, 1 restart, batches of ${bs}) on ${n} Fashion-MNIST test points, ` +
    `reference CNN (${weightsFile ?? `random init, seed ${seed}`}; labels: ${labels}), ${getNumThreads()} thread(s), ${rounds} rounds`,
);
console.log('| workload | carso ms (min–max) | PyTorch ms (min–max) | ratio carso/PyTorch |');
console.log('|---|---|---|---|');
console.log(ratioRow(`APGD-CE ${n} points, wall`, wall.carso, wall.torch));
// NOTE: CPU time (user + system, all threads) is far less sensitive than wall time to other load on the machine.
console.log(ratioRow(`APGD-CE ${n} points, CPU`, cpu.carso, cpu.torch));
const perPoint = (xs: number[]): string => ((1000 * summary(xs).median) / n).toFixed(2);
console.log(
  `wall per point: carso ${perPoint(wall.carso)} ms, PyTorch ${perPoint(wall.torch)} ms; load average ${os.loadavg()[0]!.toFixed(2)}`,
);
console.log(`robust after APGD-CE (last round; clean ${robust.clean}/${n}): carso ${robust.carso}, PyTorch ${robust.torch}`);

// AutoAttack 'standard' (carso only: the peer has no AutoAttack) on the first aa-n points
if (aaN > 0) {
  const x = data.x.narrow(0, 0, Math.min(aaN, n));
  const y = labels === 'data' ? data.y.narrow(0, 0, x.size(0)) : tensor(predict(model, x), [x.size(0)], 'int64');
  const t0 = performance.now();
  const aa = runAutoAttack(model, x, y, { norm: 'Linf', eps, seed, onWarning: () => {} });
  const total = (performance.now() - t0) / 1000;
  console.log(
    `AutoAttack standard, ${x.size(0)} points: ${total.toFixed(1)} s, ${((1000 * total) / x.size(0)).toFixed(0)} ms/point; ` +
      `clean ${aa.clean.correct}, robust ${aa.robust.correct}; ` +
      aa.perAttack.map((a) => `${a.name} ${a.seconds.toFixed(1)} s (${a.attacked} pts, robust after ${a.robust})`).join(', '),
  );
  dispose([aa.xAdv]);
}
dispose([data.x, data.y]);
