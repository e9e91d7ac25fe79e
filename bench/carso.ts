// bench/carso: the CARSO defence on Fashion-MNIST (GEOMETRIES['fashion-mnist'],
// FmnistCNN classifier with its FMNIST_CNN_TAPS, N = 8 latent samples, stable
// peel aggregation), batch 64, eval mode, carso vs the same pipeline in plain
// PyTorch (carso_peer.py) in one invocation, rounds alternating. Two workloads:
//   forward     aggregated logits, no grad (fresh latents each call)
//   inputGrad   + the input gradient of the summed CE of the aggregated logits
//               (one EOT sample of an attack step)
// Weights: a seeded random init (classifier He-scaled, purifier BatchNorm
// statistics calibrated on the batch: see below), saved for the peer; each
// round, before timing, the peer recomputes logits and input gradient on fixed
// latents and the bench fails unless both max |diff| <= 1e-4.
// Then the cost of AutoAttack-rand's first attack on CARSO (carso only):
// APGD-CE with EOT 20, 1 restart, run for --aa-iters iterations on batches of
// 16, 32, 64 Fashion-MNIST test points (labels: CARSO's own predictions), and
// the per-point cost extrapolated to 100 iterations by counting gradient
// evaluations ((1 + nIter) x EOT per run).
// Results: a table on stdout and bench/results/carso.json.
//
//   node --import tsx bench/carso.ts [--rounds 5] [--repeats 10] [--iters 3] [--threads 1] [--aa-iters 5] [--aa-batches 16,32,64]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { APGD, type Model } from '../src/attacks/index.js';
import { predict } from '../src/attacks/common.js';
import { Carso, FMNIST_CNN_TAPS, GEOMETRIES, savePurifier } from '../src/carso/index.js';
import { loadDataset, makeBatch } from '../src/data/index.js';
import { range } from '../src/eval/accuracy.js';
import { saveModule, writeSafetensors } from '../src/io/index.js';
import { FmnistCNN } from '../src/models/fmnist-cnn.js';
import {
  dispose,
  getNumThreads,
  grad,
  isGradEnabled,
  manualSeed,
  noGrad,
  randn,
  setNumThreads,
  tensor,
  tidy,
  torchVersion,
  type Tensor,
} from '../src/tensor/index.js';
import { benchOptions, ratioRow, runPeer, summary } from './stats.js';

const {
  rounds,
  repeats,
  iters,
  threads,
  batch,
  samples,
  seed,
  eps,
  'aa-iters': aaIters,
  'aa-eot': aaEot,
  'aa-batches': aaBatchList,
  out: outFile,
} = benchOptions(
  { rounds: 5, repeats: 10, iters: 3, threads: 1, batch: 64, samples: 8, seed: 0, eps: 0.1, 'aa-iters': 5, 'aa-eot': 20 },
  { 'aa-batches': '16,32,64', out: fileURLToPath(new URL('./results/carso.json', import.meta.url)) },
);
const aaBatches = aaBatchList.split(',').map(Number);
const AA_FULL_ITERS = 100;
const CHECK_TOL = 1e-4;

setNumThreads(threads);
manualSeed(seed);
const geometry = GEOMETRIES['fashion-mnist'];
const classifier = new FmnistCNN();
const carso = new Carso(classifier, { geometry, taps: FMNIST_CNN_TAPS, samples, aggregation: 'peel', encoder: false });
// NOTE: PyTorch's default init (kaiming_uniform, a = sqrt(5)) shrinks activations layer by layer, and
// a fresh BatchNorm is the identity in eval mode: a purely random CARSO is then nearly constant in x and z
// (logits moved ~1e-5 under fresh latents), which would make the equivalence check toothless. So the
// classifier's weights get He's gain for ReLU (x sqrt(6)), and the purifier's running statistics are
// calibrated by train-mode passes on the bench batch (the classifier stays in eval mode).
tidy(() => {
  const he = [...classifier.stateDict()]
    .filter(([k]) => k.endsWith('.weight'))
    .map(([k, t]): [string, Tensor] => [k, t.mul(Math.sqrt(6))]);
  classifier.loadStateDict(new Map(he), { strict: false });
});
const ds = loadDataset('fashion-mnist', { split: 'test', limit: Math.max(batch, ...aaBatches) });
const data = makeBatch(ds, range(0, ds.length));
const x = data.x.narrow(0, 0, batch);
const y = data.y.narrow(0, 0, batch);

// BatchNorm calibration (momentum 0.1: 30 passes leave 4% of the initial statistics).
carso.train();
for (let i = 0; i < 30; i++)
  tidy(() => noGrad(() => carso.purifier.decode(randn([batch, geometry.latentDim]), carso.condition(x))));
carso.eval();

const dir = mkdtempSync(join(tmpdir(), 'carso-bench-'));
const files = {
  classifier: join(dir, 'classifier.safetensors'),
  purifier: join(dir, 'purifier.safetensors'),
  check: join(dir, 'check.safetensors'),
};
saveModule(files.classifier, classifier);
savePurifier(files.purifier, carso.purifier, { taps: FMNIST_CNN_TAPS });

/** Logits and the input gradient of the summed CE, on the given latents (the check) or fresh ones (timing). */
function logitsAndGrad(z?: Tensor): { logits: Tensor; grad: Tensor } {
  return tidy(() => {
    const xr = x.clone().requiresGrad_();
    const logits = z === undefined ? carso.forward(xr) : carso.forwardWithLatents(xr, z);
    const [g] = grad(logits.crossEntropy(y, 'sum'), [xr]);
    return { logits: logits.detach(), grad: g as Tensor };
  });
}

// The equivalence check's inputs and carso's answers, for the peer.
let sensitivity = 0;
tidy(() => {
  const z = randn([samples, batch, geometry.latentDim]);
  const logits = noGrad(() => carso.forwardWithLatents(x, z));
  const g = logitsAndGrad(z);
  const selfDiff = g.logits.sub(logits).abs().max().item();
  if (selfDiff > 1e-6) throw new Error(`carso: logits with and without grad differ by ${selfDiff}`);
  // how far the logits move under other latents: the scale the check's tolerance is small against
  sensitivity = noGrad(() => carso.forwardWithLatents(x, randn(z.shape)).sub(logits).abs().max().item());
  writeSafetensors(files.check, { x, y, z, logits, grad: g.grad });
});

const workloads = {
  forward: (): void => tidy(() => void noGrad(() => carso.forward(x))),
  inputGrad: (): void => void logitsAndGrad(),
};
type Name = keyof typeof workloads;
interface Times {
  /** Seconds per iteration, one entry per repeat. */
  wall: number[];
  /** Process CPU seconds (user + system, every thread) per iteration: far less sensitive than wall time to other load. */
  cpu: number[];
  /** Minor page faults per iteration (freshly mapped memory: system time). */
  faults: number[];
}

/** As stats.ts `timed`, with the process CPU time of each repeat too. */
function timedWallCpu(fn: () => void, n: number, reps: number, warmup: number): Times {
  for (let i = 0; i < warmup; i++) fn();
  const out: Times = { wall: [], cpu: [], faults: [] };
  for (let r = 0; r < reps; r++) {
    const [w0, c0, f0] = [performance.now(), process.cpuUsage(), process.resourceUsage().minorPageFault];
    for (let i = 0; i < n; i++) fn();
    const c = process.cpuUsage(c0);
    out.wall.push((performance.now() - w0) / 1000 / n);
    out.cpu.push((c.user + c.system) / 1e6 / n);
    out.faults.push((process.resourceUsage().minorPageFault - f0) / n);
  }
  return out;
}
const names = Object.keys(workloads) as Name[];

interface PeerResult extends Record<Name, Times> {
  check: { logits: number; gradLogits: number; grad: number; gradScale: number };
  torch: string;
  threads: number;
}
const times = {
  carso: { forward: { wall: [], cpu: [], faults: [] }, inputGrad: { wall: [], cpu: [], faults: [] } } as Record<Name, Times>,
  torch: { forward: { wall: [], cpu: [], faults: [] }, inputGrad: { wall: [], cpu: [], faults: [] } } as Record<Name, Times>,
};
const checks: PeerResult['check'][] = [];
const peer = fileURLToPath(new URL('./carso_peer.py', import.meta.url));
const perRound = Math.max(1, Math.ceil(repeats / rounds));
const peerArgs = ['--classifier', files.classifier, '--purifier', files.purifier, '--check', files.check];
peerArgs.push(
  '--samples',
  String(samples),
  '--threads',
  String(threads),
  '--repeats',
  String(perRound),
  '--iters',
  String(iters),
);
const load0 = os.loadavg()[0]!;
const t0 = performance.now();
let peerTorch = '';
for (let r = 0; r < rounds; r++) {
  const p = runPeer<PeerResult>(peer, peerArgs);
  checks.push(p.check);
  peerTorch = p.torch;
  if (p.threads !== threads) throw new Error(`peer ran on ${p.threads} thread(s), carso on ${threads}`);
  if (!(Math.max(p.check.logits, p.check.gradLogits, p.check.grad) <= CHECK_TOL))
    throw new Error(
      `PyTorch peer disagrees with carso: max |diff| of logits ${p.check.logits}, of input gradients ${p.check.grad} (tolerance ${CHECK_TOL})`,
    );
  for (const k of names) {
    const c = timedWallCpu(workloads[k], iters, perRound, 2);
    for (const m of ['wall', 'cpu', 'faults'] as const) {
      times.torch[k][m].push(...p[k][m]);
      times.carso[k][m].push(...c[m]);
    }
  }
}
const sideBySideSeconds = (performance.now() - t0) / 1000;

const check = checks[0]!;
console.log(
  `bench/carso: CARSO on Fashion-MNIST (FmnistCNN, taps ${FMNIST_CNN_TAPS.join(',')}, N = ${samples}, peel), batch ${batch}, ` +
    `random init (seed ${seed}), ${getNumThreads()} thread(s), ${rounds * perRound} repeats x ${iters} iterations, ` +
    `libtorch ${torchVersion()} vs PyTorch ${peerTorch}`,
);
console.log(
  `check (fixed latents): max |diff| logits ${check.logits.toExponential(2)} (tolerance ${CHECK_TOL}), ` +
    `input gradient ${check.grad.toExponential(2)} (max |grad| ${check.gradScale.toExponential(2)}); ` +
    `other latents move the logits by up to ${sensitivity.toFixed(3)}`,
);
console.log('| workload | carso ms (min–max) | PyTorch ms (min–max) | ratio carso/PyTorch |');
console.log('|---|---|---|---|');
for (const m of ['wall', 'cpu'] as const)
  for (const k of names)
    console.log(ratioRow(`${k}, batch ${batch}, N = ${samples}, ${m}`, times.carso[k][m], times.torch[k][m]));
const faults = (side: 'carso' | 'torch', k: Name): string => summary(times[side][k].faults).median.toFixed(0);
console.log(
  'minor page faults per iteration (median): ' +
    names.map((k) => `${k} carso ${faults('carso', k)}, PyTorch ${faults('torch', k)}`).join('; '),
);
console.log(
  `load average ${load0.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} after ${sideBySideSeconds.toFixed(0)} s`,
);

// APGD-CE with EOT on CARSO, carso only. A wrapper counts gradient passes and the size of the attacked sub-batch.
interface AaRow {
  batch: number;
  attacked: number;
  gradPasses: number;
  wallSeconds: number;
  cpuSeconds: number;
  secondsPerPoint: number;
  secondsPerPointAt100: number;
  robustAfter: number;
}
const aaRows: AaRow[] = [];
const counted = { gradPasses: 0, attacked: 0 };
const model: Model = {
  stochastic: true,
  forward: (xb: Tensor): Tensor => {
    if (isGradEnabled()) {
      counted.gradPasses++;
      counted.attacked = Math.max(counted.attacked, xb.size(0));
    }
    return carso.forward(xb);
  },
};
// warm-up at the smallest batch's shapes
tidy(() => {
  const xa = data.x.narrow(0, 0, aaBatches[0]!);
  new APGD({ eps, nIter: 1, eotIter: 1 }).attack(carso, xa, tensor(predict(carso, xa), [xa.size(0)], 'int64'));
});
const scale = (1 + AA_FULL_ITERS) / (1 + aaIters);
for (const bs of aaBatches)
  tidy(() => {
    const xa = data.x.narrow(0, 0, bs);
    const ya = tensor(predict(carso, xa), [bs], 'int64');
    const apgd = new APGD({ eps, norm: 'Linf', nIter: aaIters, nRestarts: 1, loss: 'ce', eotIter: aaEot, seed });
    Object.assign(counted, { gradPasses: 0, attacked: 0 });
    const w0 = performance.now();
    const c0 = process.cpuUsage();
    const r = apgd.attack(model, xa, ya);
    const c = process.cpuUsage(c0);
    const wall = (performance.now() - w0) / 1000;
    const pts = Math.max(1, counted.attacked);
    aaRows.push({
      batch: bs,
      attacked: counted.attacked,
      gradPasses: counted.gradPasses,
      wallSeconds: wall,
      cpuSeconds: (c.user + c.system) / 1e6,
      secondsPerPoint: wall / pts,
      secondsPerPointAt100: (wall * scale) / pts,
      robustAfter: r.success.filter((s) => !s).length,
    });
  });

console.log(
  `\nAutoAttack-rand's APGD-CE on CARSO (carso only): Linf eps ${eps}, EOT ${aaEot}, 1 restart, ${aaIters} iterations; ` +
    `the last column scales the wall time by gradient evaluations, (1 + ${AA_FULL_ITERS}) / (1 + ${aaIters}) = ${scale.toFixed(2)}`,
);
console.log(
  `| batch | points attacked | CARSO grad passes | wall s | CPU s | s/point (${aaIters} it) | s/point at ${AA_FULL_ITERS} it (extrapolated) |`,
);
console.log('|---|---|---|---|---|---|---|');
for (const a of aaRows)
  console.log(
    `| ${a.batch} | ${a.attacked} | ${a.gradPasses} | ${a.wallSeconds.toFixed(1)} | ${a.cpuSeconds.toFixed(1)} | ` +
      `${a.secondsPerPoint.toFixed(3)} | ${a.secondsPerPointAt100.toFixed(2)} |`,
  );
const totalSeconds = (performance.now() - t0) / 1000;
console.log(`total ${totalSeconds.toFixed(0)} s; load average ${os.loadavg()[0]!.toFixed(2)}`);

const result = {
  bench: 'carso',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, loadAverageStart: load0, loadAverageEnd: os.loadavg()[0]! },
  config: {
    dataset: 'fashion-mnist',
    classifier: 'fmnist-cnn',
    taps: FMNIST_CNN_TAPS,
    aggregation: 'peel',
    weights: `random init, seed ${seed}`,
    batch,
    samples,
    threads: getNumThreads(),
    rounds,
    repeats: rounds * perRound,
    iters,
    libtorch: torchVersion(),
    pytorch: peerTorch,
  },
  check: { tolerance: CHECK_TOL, logitsMoveUnderOtherLatents: sensitivity, rounds: checks },
  workloads: Object.fromEntries(
    names.map((k) => [
      k,
      Object.fromEntries(
        (['wall', 'cpu', 'faults'] as const).map((m) => {
          const [c, t] = [summary(times.carso[k][m]), summary(times.torch[k][m])];
          const entry = { carso: { ...c, samples: times.carso[k][m] }, pytorch: { ...t, samples: times.torch[k][m] } };
          return [m, { unit: m === 'faults' ? 'per iteration' : 's per iteration', ...entry, ratio: c.median / t.median }];
        }),
      ),
    ]),
  ),
  apgdCeEot: {
    note: `wall time of ${aaIters} iterations; secondsPerPointAt100 scales it by (1 + ${AA_FULL_ITERS}) / (1 + ${aaIters}) gradient evaluations`,
    eps,
    norm: 'Linf',
    eotIter: aaEot,
    nRestarts: 1,
    nIter: aaIters,
    rows: aaRows,
  },
  totalSeconds,
};
mkdirSync(dirname(outFile), { recursive: true });
// NOTE: formatted as prettier would (the file sits under bench/, which `make lint` checks).
const json = await format(JSON.stringify(result), { ...(await resolveConfig(outFile)), filepath: outFile });
writeFileSync(outFile, json);
console.log(`wrote ${outFile}`);
dispose([data.x, data.y]);
carso.dispose();
rmSync(dir, { recursive: true, force: true });
