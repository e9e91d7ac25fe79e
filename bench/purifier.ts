// bench/purifier: what end-to-end adversarial rows cost in purifier training, and
// how many latent draws the end-to-end attacker needs. Shipped Fashion-MNIST
// classifier (models/fmnist-cnn-pgd-at) and purifier (models/fmnist-carso, so the
// attacks see a trained CARSO), one process, one thread, rounds alternating:
//
//   step    one training step (adversarial batch, forward, loss, backward, RAdam +
//           Lookahead) of batch --batch with the paper's recipe (four classifier-only
//           chunks, f 0.5) and with --e2e-fraction of the batch attacked end to end
//           (PGD --e2e-steps x --e2e-step, DLR, --e2e-samples latent draws): the ratio
//           is what an epoch costs more.
//   draws   the end-to-end attack with 0 (z = 0), 1, 2 and 8 latent draws on --points
//           test points: seconds for PGD, the cosine of its input gradient to a
//           reference (8 draws averaged over 4 calls), and CARSO's accuracy (8 draws,
//           as at inference) on the PGD examples. Equal strength at fewer draws
//           means the latent carries no information the attacker needs.
// Results: a table on stdout and bench/results/purifier.json.
//
//   node --import tsx bench/purifier.ts [--rounds 5] [--batch 256] [--e2e-fraction 0.25] [--e2e-steps 3] [--e2e-step 0.04]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Linf, asModel, dlrLoss, lossAndGrad, pgdRun } from '../src/attacks/index.js';
import {
  Carso,
  FMNIST_CNN_TAPS,
  GEOMETRIES,
  adversarialBatch,
  endToEndModel,
  purifierLoss,
  type AdversarialSplit,
} from '../src/carso/index.js';
import { loadDataset, makeBatch } from '../src/data/index.js';
import { range } from '../src/eval/accuracy.js';
import { loadModule } from '../src/io/index.js';
import { createModel } from '../src/models/index.js';
import { carsoTraining } from '../src/optim/index.js';
import { getNumThreads, manualSeed, noGrad, setNumThreads, tidy, torchVersion, type Tensor } from '../src/tensor/index.js';
import { benchOptions, summary } from './stats.js';

const o = benchOptions(
  {
    rounds: 5,
    threads: 1,
    batch: 256,
    'e2e-fraction': 0.25,
    'e2e-steps': 3,
    'e2e-step': 0.04,
    'e2e-samples': 1,
    points: 64,
    seed: 0,
  },
  { out: fileURLToPath(new URL('./results/purifier.json', import.meta.url)) },
);
setNumThreads(o.threads);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'models');
const classifier = createModel('fmnist-cnn');
loadModule(join(root, 'fmnist-cnn-pgd-at', 'model.safetensors'), classifier);
classifier.eval();
const ds = loadDataset('fashion-mnist', { split: 'train', limit: o.batch });
const train = makeBatch(ds, range(0, o.batch));
const test = loadDataset('fashion-mnist', { split: 'test' });
const pts = makeBatch(test, range(1000, o.points)); // [first, count): away from the evaluation's points 0-499
const f = asModel(classifier);

// --- step: the paper's recipe vs end-to-end rows (a fresh purifier with its encoder: the cost does not depend on the weights)
manualSeed(o.seed);
const carso = new Carso(classifier, { geometry: GEOMETRIES['fashion-mnist'], taps: FMNIST_CNN_TAPS });
const { opt } = carsoTraining(carso.purifierParameters(), 16, o.batch);
const paper: AdversarialSplit = { fraction: 0.5, epsWeak: 0.1, epsStrong: 0.2, pgdSteps: 10, pgdStepSize: 0.025 };
const e2e: AdversarialSplit = {
  ...paper,
  endToEnd: {
    model: endToEndModel(carso, o['e2e-samples']),
    fraction: o['e2e-fraction'],
    attack: 'pgd',
    eps: 0.1,
    steps: o['e2e-steps'],
    step: o['e2e-step'],
    loss: 'dlr',
  },
};
/** Seconds for one training step with split s (as train.ts: the attack in eval mode when end to end). */
function step(s: AdversarialSplit): number {
  const t0 = performance.now();
  tidy(() => {
    if (s.endToEnd) carso.eval();
    const xt = adversarialBatch(f, train.x, train.y, s);
    carso.train();
    opt.zeroGrad();
    purifierLoss(carso.forwardTrain(xt), train.x, 1).loss.backward();
    opt.step();
  });
  return (performance.now() - t0) / 1000;
}
manualSeed(o.seed);
step(paper); // warm-up: allocator cache, first-call costs
step(e2e);
const times = { paper: [] as number[], e2e: [] as number[] };
for (let r = 0; r < o.rounds; r++) {
  times.paper.push(step(paper));
  times.e2e.push(step(e2e));
}
opt.dispose();
carso.dispose();

// --- draws: the end-to-end attacker with 0, 1, 2, 8 latent draws, against the shipped CARSO
// NOTE: its own classifier instance: two Carso on one classifier would both hook its taps
carso.dispose();
const shippedClassifier = createModel('fmnist-cnn');
loadModule(join(root, 'fmnist-cnn-pgd-at', 'model.safetensors'), shippedClassifier);
const shipped = Carso.load(shippedClassifier, join(root, 'fmnist-carso', 'purifier.safetensors'));
manualSeed(o.seed);
const reference = tidy(() => {
  let s: Tensor | null = null;
  for (let i = 0; i < 4; i++) {
    const g = lossAndGrad(endToEndModel(shipped, 8), pts.x, pts.y, dlrLoss, 1).grad;
    s = s === null ? g : s.add(g);
  }
  return s as Tensor;
});
const cosine = (g: Tensor): number =>
  tidy(() => {
    const [a, b] = [g.flatten(1), reference.flatten(1)];
    const c = a
      .mul(b)
      .sum(1)
      .div(
        a
          .norm(2, [1])
          .mul(b.norm(2, [1]))
          .add(1e-30),
      )
      .toArray();
    return summary(c).median;
  });
const accuracy = (x: Tensor): number => noGrad(() => shipped.forward(x).argmax(1).eq(pts.y).toArray().filter(Boolean).length);
const draws = [0, 1, 2, 8].map((samples) => {
  const m = endToEndModel(shipped, samples);
  manualSeed(o.seed + 1);
  const cos = cosine(lossAndGrad(m, pts.x, pts.y, dlrLoss, 1).grad);
  const t0 = performance.now();
  const xAdv = pgdRun(m, pts.x, pts.y, {
    norm: Linf,
    eps: 0.1,
    alpha: o['e2e-step'],
    steps: o['e2e-steps'],
    randomStart: true,
    lossFn: dlrLoss,
    eotIter: 1,
  }).xAdv;
  const seconds = (performance.now() - t0) / 1000;
  manualSeed(o.seed + 2);
  return { samples, pgdSeconds: seconds, gradientCosineMedian: cos, carsoCorrectAfter: accuracy(xAdv), points: o.points };
});
manualSeed(o.seed + 2);
const clean = accuracy(pts.x);

const [p, e] = [summary(times.paper), summary(times.e2e)];
const ratios = times.e2e.map((t, i) => t / times.paper[i]!);
console.log(`purifier training step, batch ${o.batch}, ${getNumThreads()} thread(s), ${o.rounds} rounds alternating:`);
console.log(`| recipe | s per step, median (min–max) |`);
console.log(`| paper (4 classifier chunks) | ${p.median.toFixed(3)} (${p.min.toFixed(3)}–${p.max.toFixed(3)}) |`);
console.log(
  `| + end-to-end ${o['e2e-fraction']} (PGD ${o['e2e-steps']}, ${o['e2e-samples']} draw) | ${e.median.toFixed(3)} (${e.min.toFixed(3)}–${e.max.toFixed(3)}) |`,
);
const rs = summary(ratios);
console.log(`ratio end-to-end / paper: ${rs.median.toFixed(2)} (${rs.min.toFixed(2)}–${rs.max.toFixed(2)})`);
console.log(
  `\nend-to-end PGD (${o['e2e-steps']} x ${o['e2e-step']}, DLR) on ${o.points} test points; CARSO clean ${clean}/${o.points}:`,
);
console.log('| draws | PGD s | gradient cosine to 8-draw reference (median) | CARSO correct after |');
for (const d of draws)
  console.log(
    `| ${d.samples} | ${d.pgdSeconds.toFixed(2)} | ${d.gradientCosineMedian.toFixed(3)} | ${d.carsoCorrectAfter}/${d.points} |`,
  );
mkdirSync(dirname(o.out), { recursive: true });
writeFileSync(
  o.out,
  JSON.stringify(
    {
      options: o,
      torch: torchVersion(),
      threads: getNumThreads(),
      step: { paper: times.paper, e2e: times.e2e, ratios },
      draws,
      clean,
    },
    null,
    2,
  ) + '\n',
);
