// Purifier training (carso.md 3.4-3.6): the KL warm-up, the batch split, the
// released training eps, the loss, the adversarial batch, and a short run whose
// checkpoint/resume reproduces the uninterrupted run's weights exactly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linf, ceLoss, dlrLoss, asModel, pgdRun } from '../../src/attacks/index.js';
import { ImageDataset } from '../../src/data/index.js';
import { readSafetensors } from '../../src/io/index.js';
import { grad, manualSeed, noGrad, rand, randint, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import {
  adversarialBatch,
  batchLayout,
  betaAt,
  betaScaled,
  endToEndModel,
  PAPER_EXTRAS,
  chunkSize,
  purifierConfigErrors,
  purifierDefaults,
  purifierLoss,
  referenceTrainingEps,
  trainPurifier,
  GEOMETRIES,
  type PurifierEpochMetrics,
  type PurifierTrainConfig,
} from '../../src/carso/index.js';
import { checkTensor } from '../helpers.js';
import { TINY_GEOMETRY, tinyCarso } from './tiny.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('beta: 0 for ceil(E/8) epochs, linear over ceil(E/24), then 1 (CIFAR: lag 25, warm-up 9; Tiny: 32, 11)', () => {
  const cifar = [0, 24, 25, 26, 30, 33, 34, 199].map((e) => betaAt(e, 200));
  assert.deepEqual(cifar, [0, 0, 0, 1 / 9, 5 / 9, 8 / 9, 1, 1]);
  const tiny = [31, 32, 33, 42, 43].map((e) => betaAt(e, 250));
  assert.deepEqual(tiny, [0, 0, 1 / 11, 10 / 11, 1]);
});

test('chunk split a = floor(B f / 4): 640/0.5 -> 80, 640/0.15 -> 24, 128/0.01 -> 0', () => {
  assert.deepEqual(
    [chunkSize(640, 0.5), chunkSize(640, 0.15), chunkSize(128, 0.01), chunkSize(16, 0.5), chunkSize(3, 1)],
    [80, 24, 0, 2, 0],
  );
});

test('released training eps: nominal 4/255, 8/255 divided by the mean channel std; per-dataset defaults', () => {
  const eps = (d: 'cifar10' | 'cifar100' | 'tiny-imagenet'): number[] =>
    [4, 8].map((e) => Number(referenceTrainingEps(e / 255, GEOMETRIES[d].normalization.std).toFixed(5)));
  assert.deepEqual(eps('cifar10'), [0.06256, 0.12512]);
  assert.deepEqual(eps('cifar100'), [0.05883, 0.11766]);
  assert.deepEqual(eps('tiny-imagenet'), [0.06891, 0.13782]);
  const pick = (d: string): number[] => {
    const c = purifierDefaults(d);
    return [c.perturbedFraction, c.epochs, c.batchSize, c.pgdSteps, c.pgdStepSize];
  };
  assert.deepEqual(pick('cifar10'), [0.5, 200, 640, 40, 0.01]);
  assert.deepEqual(pick('cifar100'), [0.15, 200, 640, 40, 0.01]);
  assert.deepEqual(pick('tiny-imagenet'), [0.01, 250, 128, 40, 0.01]);
  assert.deepEqual(pick('fashion-mnist'), [0.5, 16, 256, 10, 0.025]);
  assert.deepEqual([purifierDefaults('fashion-mnist').epsWeak, purifierDefaults('fashion-mnist').epsStrong], [0.1, 0.2]);
  assert.deepEqual(purifierConfigErrors({ ...purifierDefaults('mnist'), seed: 0, perturbedFraction: 2, epsWeak: 0 }).length, 2);
});

test('loss = summed BCE + beta * 1/2 sum(mu^2 + e^logvar - logvar - 1)', () => {
  tidy(() => {
    const out = { xHat: tensor([0.2, 0.9], [1, 1, 1, 2]), mu: tensor([0.5, -1], [1, 2]), logvar: tensor([0, 0.5], [1, 2]) };
    const x = tensor([0, 1], [1, 1, 1, 2]);
    const bce = -Math.log(0.8) - Math.log(0.9);
    const kld = 0.5 * (0.25 + 1 - 0 - 1 + (1 + Math.exp(0.5) - 0.5 - 1));
    const r = purifierLoss(out, x, 0.25);
    checkTensor([r.bce.item(), r.kld.item(), r.loss.item()], [bce, kld, bce + 0.25 * kld], 'loss parts', 1e-6);
  });
});

test('adversarial batch: clean rows first, then PGD-weak, PGD-strong, FGSM-weak, FGSM-strong chunks in their eps balls', () => {
  const carso = tinyCarso(4);
  const f = asModel(carso.classifier);
  tidy(() => {
    const x = rand([16, 1, 12, 12]);
    const y = randint(0, 5, [16]);
    const split = { fraction: 0.5, epsWeak: 0.05, epsStrong: 0.1, pgdSteps: 5 };
    const xt = adversarialBatch(f, x, y, split);
    const d = xt.sub(x).abs().flatten(1).amax([1]).toArray();
    const r = (v: number): number => Math.round(v * 1e5) / 1e5;
    assert.deepEqual(d.slice(0, 8), Array(8).fill(0), 'clean part untouched');
    for (const [rows, eps] of [
      [[8, 9, 12, 13], 0.05],
      [[10, 11, 14, 15], 0.1],
    ] as const)
      for (const i of rows) assert.ok(d[i]! <= eps + 1e-6 && d[i]! > eps / 2, `row ${i}: ${d[i]}`);
    // FGSM moves every pixel by exactly eps unless the box clips it (or the gradient is 0)
    const fg = xt
      .narrow(0, 12, 2)
      .sub(x.narrow(0, 12, 2))
      .abs()
      .toArray()
      .map(r);
    assert.ok(
      fg.every((v) => v === 0.05 || v < 0.05),
      'FGSM-weak steps',
    );
    assert.ok(xt.ge(0).all().item() === 1 && xt.le(1).all().item() === 1);
    const ce = (v: typeof x): number[] => noGrad(() => ceLoss(f.forward(v), y).toArray());
    const [clean, adv] = [ce(x), ce(xt)];
    for (const i of [8, 9, 10, 11]) assert.ok(adv[i]! > clean[i]!, `PGD raised the loss of row ${i}`);
    // a = 0 (Tiny's 128 x 0.01): the batch stays clean
    checkTensor(adversarialBatch(f, x, y, { ...split, fraction: 0.01 }), x, 'a = 0', 0, 0);
  });
  carso.dispose();
});

/** 56 synthetic 12x12 images: a bright square whose position is the label, on noise. */
function toyDataset(): ImageDataset {
  const n = 56;
  const images = new Uint8Array(n * 144);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 5;
    for (let p = 0; p < 144; p++) images[i * 144 + p] = (i * 37 + p * 11) % 60;
    const [r0, c0] = [2 * labels[i]!, 1 + labels[i]!];
    for (let r = r0; r < r0 + 3; r++) for (let c = c0; c < c0 + 3; c++) images[i * 144 + r * 12 + c] = 230;
  }
  return new ImageDataset('toy', images, labels, [1, 12, 12], ['a', 'b', 'c', 'd', 'e']);
}

const CONFIG: PurifierTrainConfig = {
  dataset: 'toy',
  epochs: 5,
  // NOTE: 7 steps per epoch (35 in all: not a multiple of Lookahead's k = 6, so slow != fast at the end), so RAdam's first 5 (SGD-like, unnormalised) steps fall in epoch 0 at the
  // init lr 5e-9, as they do in the reference's long epochs; at batch 16 they hit the warm-up lr and diverge.
  batchSize: 8,
  perturbedFraction: 0.5,
  epsWeak: 0.05,
  epsStrong: 0.1,
  pgdSteps: 3,
  pgdStepSize: 0.01,
  ...PAPER_EXTRAS,
  seed: 0,
};

function run(out: string, o: { stopAfterEpoch?: number; resume?: boolean } = {}): PurifierEpochMetrics[] {
  const carso = tinyCarso(7);
  try {
    return trainPurifier(carso, toyDataset(), CONFIG, { out, quiet: true, ...o }).metrics;
  } finally {
    carso.dispose();
    carso.classifier.dispose();
  }
}

test('a short run lowers the reconstruction loss; stop + resume gives the same weights bit for bit', () => {
  const whole = run(join(dir, 'whole'));
  assert.equal(whole.length, 5);
  assert.ok(whole[4]!.bce < 0.8 * whole[0]!.bce, `BCE per point ${whole[0]!.bce} -> ${whole[4]!.bce}`);
  assert.deepEqual(
    whole.map((m) => m.beta),
    [0, 0, 1, 1, 1],
  ); // E 5: lag ceil(0.625) = 1, warm-up ceil(0.21) = 1
  assert.equal(whole[0]!.lr, 5e-9); // the schedule starts at the init lr
  const card = JSON.parse(readFileSync(join(dir, 'whole', 'card.json'), 'utf8')) as {
    recipe: { epochs: number };
    trainingSeconds: number;
  };
  assert.equal(card.recipe.epochs, 5);
  assert.ok(Math.abs(card.trainingSeconds - whole.reduce((a, m) => a + m.seconds, 0)) < 1e-9);
  const lines = readFileSync(join(dir, 'whole', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n');
  assert.equal(lines.length, 5);
  // The saved purifier holds Lookahead's slow weights, not the last fast ones of the checkpoint.
  const saved = readSafetensors(join(dir, 'whole', 'purifier.safetensors')).tensors;
  const ckpt = readSafetensors(join(dir, 'whole', 'checkpoint.safetensors')).tensors;
  const probe = tinyCarso(7);
  const names = probe.purifier.namedParameters().map(([k]) => k);
  probe.dispose();
  names.forEach((k, i) => {
    if (saved.has(k)) assert.deepEqual(saved.get(k)!.toArray(), ckpt.get(`optim.lookahead.slow.${i}`)!.toArray(), k);
  });
  assert.notDeepEqual(saved.get('decoder.5.bias')!.toArray(), ckpt.get('model.decoder.5.bias')!.toArray());

  const part = run(join(dir, 'split'), { stopAfterEpoch: 2 });
  assert.equal(part.length, 2);
  assert.ok(!existsSync(join(dir, 'split', 'purifier.safetensors')));
  const resumed = run(join(dir, 'split'), { resume: true });
  const strip = (ms: PurifierEpochMetrics[]): Omit<PurifierEpochMetrics, 'seconds' | 'cpuSeconds'>[] =>
    ms.map(({ seconds: _s, cpuSeconds: _c, ...m }) => m);
  assert.deepEqual(strip(resumed), strip(whole));
  const [a, b] = ['whole', 'split'].map((d) => readSafetensors(join(dir, d, 'purifier.safetensors')).tensors);
  assert.deepEqual([...a!.keys()], [...b!.keys()]);
  assert.ok(![...a!.keys()].some((k) => k.startsWith('neck.')), 'encoder not saved');
  for (const [k, t] of a!) assert.deepEqual(b!.get(k)!.toArray(), t.toArray(), k);
});

test("beta 'scaled': the reference's proportions (25/200 at 0, a 9/200 ramp) per batch, for any length", () => {
  const at200 = [0, 24.9, 25, 29.5, 34, 120].map((p) => betaScaled(p, 200));
  assert.deepEqual(at200, [0, 0, 0, 0.5, 1, 1]);
  // 16 epochs: 0 up to epoch 2.0, then a ramp of 0.72 epochs (the reference steps 0 -> 1 at epoch 3)
  const at16 = [1.99, 2, 2.36, 2.72, 3].map((p) => Math.round(betaScaled(p, 16) * 1e9) / 1e9);
  assert.deepEqual(at16, [0, 0, 0.5, 1, 1]);
  assert.deepEqual(
    [2, 3].map((e) => betaAt(e, 16)),
    [0, 1],
  );
});

test('free bits: KL term B sum_d max(lambda, mean_b KL_bd); dimensions under the floor get no gradient', () => {
  tidy(() => {
    // B 2, latent 2; per-(b, d) KL = 1/2 (mu^2 + e^lv - lv - 1) with lv 0: mu^2 / 2
    const mu = tensor([0.1, 2, -0.1, 1], [2, 2]).requiresGrad_();
    const out = { xHat: tensor([0.5, 0.5], [2, 1, 1, 1]), mu, logvar: tensor([0, 0, 0, 0], [2, 2]) };
    const x = tensor([0, 1], [2, 1, 1, 1]);
    const lambda = 0.5;
    // mean_b KL: dim 0 (0.005 + 0.005) / 2 = 0.005 -> floored at 0.5; dim 1 (2 + 0.5) / 2 = 1.25
    const r = purifierLoss(out, x, 1, lambda);
    const bce = 2 * Math.log(2);
    checkTensor([r.kld.item(), r.loss.item()], [0.005 + 0.005 + 2 + 0.5, bce + 2 * (0.5 + 1.25)], 'free-bits loss', 1e-6);
    const g = grad(r.loss, [mu])[0]!.toArray();
    // d/dmu_bd of B * mean_b (mu^2 / 2) = mu_bd for the open dimension, 0 for the floored one
    checkTensor(g, [0, 2, 0, 1], 'gradient', 1e-6);
    // lambda 0 is the plain KL
    checkTensor([purifierLoss(out, x, 1, 0).loss.item()], [bce + 2.51], 'no floor', 1e-6);
  });
});

test('end-to-end rows: [clean | e2e | 4 classifier chunks]; e2e rows in their ball, attacked through CARSO (DLR up)', () => {
  const carso = tinyCarso(4);
  carso.eval();
  const f = asModel(carso.classifier);
  const e2e = endToEndModel(carso, 0); // z = 0: deterministic, so losses before/after compare
  tidy(() => {
    manualSeed(3);
    const x = rand([16, 1, 12, 12]);
    const y = randint(0, 5, [16]);
    const chunk = { model: e2e, fraction: 0.25, attack: 'pgd' as const, eps: 0.1, steps: 5, step: 0.03, loss: 'dlr' as const };
    assert.deepEqual(batchLayout(16, { fraction: 0.5, endToEnd: chunk }), { clean: 4, e2e: 4, a: 2 });
    assert.throws(() => batchLayout(16, { fraction: 0.5, endToEnd: { ...chunk, fraction: 0.6 } }), /exceed the batch of 16/);
    const xt = adversarialBatch(f, x, y, { fraction: 0.5, epsWeak: 0.05, epsStrong: 0.1, pgdSteps: 3, endToEnd: chunk });
    const d = xt.sub(x).abs().flatten(1).amax([1]).toArray();
    assert.deepEqual(d.slice(0, 4), [0, 0, 0, 0], 'clean rows untouched');
    for (let i = 4; i < 16; i++) assert.ok(d[i]! > 0 && d[i]! <= 0.1 + 1e-6, `row ${i}: ${d[i]}`);
    const dlr = (v: Tensor): number[] => noGrad(() => dlrLoss(e2e.forward(v.narrow(0, 4, 4)), y.narrow(0, 4, 4)).toArray());
    const [before, after] = [dlr(x), dlr(xt)];
    // NOTE: an untrained purifier draws nearly the same image for every input, so the loss moves little; it must not fall
    assert.ok(after.every((v, i) => v >= before[i]!) && after.some((v, i) => v > before[i]!), `DLR ${before} -> ${after}`);
    // the rows are exactly a PGD run on the end-to-end model (same random stream, no classifier chunks)
    manualSeed(5);
    const only = adversarialBatch(f, x, y, { fraction: 0, epsWeak: 0.05, epsStrong: 0.1, endToEnd: chunk }).narrow(0, 12, 4);
    manualSeed(5);
    const direct = pgdRun(e2e, x.narrow(0, 12, 4), y.narrow(0, 12, 4), {
      norm: Linf,
      eps: 0.1,
      alpha: 0.03,
      steps: 5,
      randomStart: true,
      lossFn: dlrLoss,
      eotIter: 1,
    }).xAdv;
    checkTensor(only, direct, 'e2e rows = pgdRun(endToEndModel)', 0, 0);
    // the stable aggregation, whatever the defence's own setting; z = 0 = carso.forwardWithLatents(x, 0)
    carso.aggregation = 'logit';
    const viaModel = e2e.forward(x.narrow(0, 0, 3));
    carso.aggregation = 'peel';
    const plain = carso.forwardWithLatents(x.narrow(0, 0, 3), zeros([1, 3, TINY_GEOMETRY.latentDim]));
    checkTensor(viaModel, plain, 'endToEndModel(carso, 0)', 0, 0);
  });
  carso.dispose();
});

test('end-to-end training: runs, and stop + resume reproduces the uninterrupted run bit for bit', () => {
  const c: PurifierTrainConfig = {
    ...CONFIG,
    epochs: 3,
    e2eFraction: 0.25,
    e2eSteps: 2,
    e2eSamples: 2,
    betaSchedule: 'scaled',
    freeBits: 0.1,
    classWeight: 0.1,
  };
  const go = (out: string, o: { stopAfterEpoch?: number; resume?: boolean } = {}): PurifierEpochMetrics[] => {
    const carso = tinyCarso(7);
    try {
      return trainPurifier(carso, toyDataset(), c, { out, quiet: true, ...o }).metrics;
    } finally {
      carso.dispose();
      carso.classifier.dispose();
    }
  };
  const whole = go(join(dir, 'e2e-whole'));
  assert.equal(whole.length, 3);
  assert.ok(whole.every((m) => Number.isFinite(m.loss) && m.kld > 0 && (m.ce ?? -1) > 0));
  go(join(dir, 'e2e-split'), { stopAfterEpoch: 1 });
  const resumed = go(join(dir, 'e2e-split'), { resume: true });
  const strip = (ms: PurifierEpochMetrics[]): Omit<PurifierEpochMetrics, 'seconds' | 'cpuSeconds'>[] =>
    ms.map(({ seconds: _s, cpuSeconds: _c, ...m }) => m);
  assert.deepEqual(strip(resumed), strip(whole));
  const [a, b] = ['e2e-whole', 'e2e-split'].map((d) => readSafetensors(join(dir, d, 'purifier.safetensors')).tensors);
  for (const [k, t] of a!) assert.deepEqual(b!.get(k)!.toArray(), t.toArray(), k);
  const card = JSON.parse(readFileSync(join(dir, 'e2e-whole', 'card.json'), 'utf8')) as { recipe: PurifierTrainConfig };
  assert.equal(card.recipe.e2eFraction, 0.25);
});

test('class weight: + gamma sum_b CE(f(x_hat_b), y_b), the gradient reaching the reconstructions', () => {
  tidy(() => {
    const xHat = tensor([0.2, 0.9, 0.6, 0.3], [2, 1, 1, 2]).requiresGrad_();
    const out = { xHat, mu: tensor([0, 0], [2, 1]), logvar: tensor([0, 0], [2, 1]) };
    const x = tensor([0, 1, 1, 0], [2, 1, 1, 2]);
    // f(v) = v flattened: logits = the two pixels; CE_b = logsumexp(v_b) - v_b[y_b]
    const f = { stochastic: false, forward: (v: Tensor): Tensor => v.reshape(v.size(0), -1) };
    const y = tensor([1, 0], [2], 'int64');
    const ce = [Math.log(Math.exp(0.2) + Math.exp(0.9)) - 0.9, Math.log(Math.exp(0.6) + Math.exp(0.3)) - 0.6];
    const bce = -Math.log(0.8) - Math.log(0.9) - Math.log(0.6) - Math.log(0.7);
    const r = purifierLoss(out, x, 1, 0, { classifier: f, y, weight: 0.5 });
    checkTensor([r.ce!.item(), r.loss.item()], [ce[0]! + ce[1]!, bce + 0.5 * (ce[0]! + ce[1]!)], 'loss with class term', 1e-6);
    // d/dv of 0.5 CE: 0.5 (softmax(v) - onehot(y)), plus the BCE part d/dp [-t log p - (1-t) log(1-p)]
    const sm = (a: number, b: number): number => Math.exp(a) / (Math.exp(a) + Math.exp(b));
    const dBce = (p: number, t: number): number => -t / p + (1 - t) / (1 - p);
    const expected = [
      0.5 * sm(0.2, 0.9) + dBce(0.2, 0),
      0.5 * (sm(0.9, 0.2) - 1) + dBce(0.9, 1),
      0.5 * (sm(0.6, 0.3) - 1) + dBce(0.6, 1),
      0.5 * sm(0.3, 0.6) + dBce(0.3, 0),
    ];
    checkTensor(grad(r.loss, [xHat])[0]!.toArray(), expected, 'gradient', 1e-5);
    assert.equal(purifierLoss(out, x, 1, 0).ce, null);
  });
});
