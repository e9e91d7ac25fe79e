// LR schedules against torch.optim.lr_scheduler, and the CARSO schedule (carso.md 3.6)
// against its spec formula and ebtorch's composition of torch schedulers
// (test/fixtures/gen_optim.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tensor, dispose } from '../../src/tensor/index.js';
import type { Schedule } from '../../src/optim/index.js';
import {
  multiStep,
  cosine,
  oneCycle,
  oneCycleMomentum,
  warmupFlatDecay,
  carsoScheduleOptions,
  LRScheduler,
  SGD,
  Adam,
} from '../../src/optim/index.js';
import type { OneCycleOptions } from '../../src/optim/index.js';
import { checkTensor } from '../helpers.js';

interface Fixture {
  multistep: { base: number; milestones: number[]; gamma: number; lr: number[] };
  cosine: { base: number; tMax: number; etaMin: number; lr: number[] };
  cosine_warmup: { base: number; tMax: number; etaMin: number; warmup: number; warmupStartFactor: number; lr: number[] };
  onecycle: (OneCycleOptions & { base: number; lr: number[]; momentum: number[] })[];
  carso: { epochs: number; batch: number; spec: number[]; torch: number[] }[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim/schedules.json', import.meta.url), 'utf8')) as Fixture;

const values = (s: Schedule, base: number, n: number): number[] => Array.from({ length: n }, (_, t) => s(t, base));
// NOTE: PyTorch steps its schedulers by chained products (lr_t = lr_{t-1} * ratio); the
// closed forms here agree to float64 rounding, hence a relative tolerance of 1e-12.
const close = (a: number[], e: number[], label: string): void => checkTensor(a, e, label, 1e-15, 1e-12);

test('multiStep = MultiStepLR (a repeated milestone counts twice)', () => {
  const m = fx.multistep;
  close(values(multiStep(m.milestones, m.gamma), m.base, m.lr.length), m.lr, 'multistep');
});

test('cosine = CosineAnnealingLR, also past tMax', () => {
  const c = fx.cosine;
  close(values(cosine({ tMax: c.tMax, etaMin: c.etaMin }), c.base, c.lr.length), c.lr, 'cosine');
});

test('cosine with warm-up = SequentialLR(LinearLR, CosineAnnealingLR)', () => {
  const c = fx.cosine_warmup;
  close(values(cosine(c), c.base, c.lr.length), c.lr, 'cosine warm-up');
});

test('oneCycle = OneCycleLR: lr and momentum (cos default; linear three-phase)', () => {
  for (const o of fx.onecycle) {
    close(values(oneCycle(o), o.base, o.lr.length), o.lr, `onecycle lr ${JSON.stringify(o.totalSteps)}`);
    const mom = oneCycleMomentum(o);
    close(
      o.momentum.map((_, t) => mom(t)),
      o.momentum,
      'onecycle momentum',
    );
  }
  assert.throws(() => oneCycle({ totalSteps: 10 })(11, 1), /past totalSteps/);
});

test('CARSO schedule: the spec formula (1e-12) and ebtorch warmed_up_linneal in torch (1e-9)', () => {
  for (const c of fx.carso) {
    const o = carsoScheduleOptions(c.epochs, c.batch);
    const lrs = values(warmupFlatDecay(o), o.steadyLr, c.spec.length);
    close(lrs, c.spec, `carso E=${c.epochs} spec`);
    checkTensor(lrs, c.torch, `carso E=${c.epochs} torch`, 1e-15, 1e-9);
  }
});

test('CARSO schedule boundaries for E = 200, B = 640 (carso.md 3.6)', () => {
  const o = carsoScheduleOptions(200, 640);
  assert.deepEqual([o.warmupEpochs, o.flatEpochs, o.decayEpochs], [25, 25, 150]);
  const lr = (e: number): number => warmupFlatDecay(o)(e, o.steadyLr);
  assert.equal(lr(0), 5e-9);
  assert.ok(lr(24) < 0.064 && lr(25) === 0.064 && lr(49) === 0.064 && lr(50) === 0.064 && lr(51) < 0.064);
  close([lr(199), lr(200), lr(300)], [8e-6 + (0.064 - 8e-6) / 150, 8e-6, 8e-6], 'decayed to final, then flat');
  const t = carsoScheduleOptions(250, 128);
  assert.deepEqual([t.warmupEpochs, t.flatEpochs, t.decayEpochs, t.steadyLr, t.finalLr], [31, 31, 188, 0.0128, 1.6e-6]);
});

test('LRScheduler sets each group from its own base lr, and momentum (SGD) or betas[0] (Adam)', () => {
  const [a, b] = [tensor([1], [1]).requiresGrad_(), tensor([1], [1]).requiresGrad_()];
  const sgd = new SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1, momentum: 0.9 });
  const o = fx.onecycle[0]!;
  const sched = new LRScheduler(sgd, oneCycle(o), { momentum: oneCycleMomentum(o) });
  for (let t = 0; t < 5; t++) sched.step();
  assert.deepEqual(sched.lastLr(), [oneCycle(o)(5, 0.1), oneCycle(o)(5, 0.01)]);
  assert.equal(sgd.paramGroups[1]!.momentum, o.momentum[5]);
  const adam = new Adam([a], { lr: 0.1, betas: [0.9, 0.99] });
  new LRScheduler(adam, oneCycle(o), { momentum: oneCycleMomentum(o) }).step();
  assert.deepEqual(adam.paramGroups[0]!.betas, [o.momentum[1], 0.99]);
  dispose([a, b]);
});
