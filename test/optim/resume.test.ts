// Resume: n steps, checkpoint (through JSON and raw float32 bytes, as a safetensors
// writer would), a fresh optimiser loads it, the remaining steps: the parameters
// must equal an uninterrupted run bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, dispose, type Tensor } from '../../src/tensor/index.js';
import type { OptimizerState } from '../../src/optim/index.js';
import { LRScheduler, multiStep, SGD } from '../../src/optim/index.js';
import { fixture, makeParams, setGrads, build, NAMES, type OptimCase } from './fixture.js';

/** JSON for everything but the tensors; the tensors as bytes, rebuilt as new float32 tensors. */
function roundTrip(sd: OptimizerState): OptimizerState {
  const { tensors, ...json } = sd;
  const files = Object.entries(tensors).map(([k, t]) => [k, t.shape, t.toBytes().slice()] as const);
  dispose(tensors);
  const back = JSON.parse(JSON.stringify(json)) as Omit<OptimizerState, 'tensors'>;
  const rebuilt: Record<string, Tensor> = {};
  for (const [k, shape, bytes] of files) rebuilt[k] = tensor(new Float32Array(bytes.buffer), shape);
  return { ...back, tensors: rebuilt };
}

function finalValues(c: OptimCase, split: number | null): Float32Array[] {
  const params = makeParams();
  let opt = build(c, params);
  for (let t = 0; t < c.steps; t++) {
    if (t === split) {
      const sd = roundTrip(opt.stateDict());
      opt.dispose();
      opt = build(c, params); // fresh: new state, slow weights = current params
      opt.loadStateDict(sd);
      dispose(sd.tensors);
    }
    setGrads(params, t);
    opt.step();
  }
  opt.dispose();
  const out = NAMES.map((n) => params[n]!.toFloat32Array());
  dispose(Object.values(params));
  return out;
}

const RESUMED: [string, number[]][] = [
  ['sgd nesterov + weight decay', [3]],
  ['sgd param groups', [3]],
  ['adam l2 + amsgrad', [3]],
  ['adamw', [3]],
  ['radam', [3, 6]],
  ['radam ebtorch: no degenerate step, decoupled decay', [3]],
  // splits before, at and after Lookahead's k = 6 synchronisation
  ['lookahead(radam) k=6 alpha=0.8 (carso.md 3.6)', [3, 6, 7, 11]],
];

for (const [name, splits] of RESUMED) {
  const c = fixture.cases.find((x) => x.name === name);
  assert.ok(c !== undefined, name);
  for (const split of splits)
    test(`${name}: save after ${split} of ${c.steps} steps, load into a fresh optimiser: bit-identical`, () => {
      const whole = finalValues(c, null);
      const resumed = finalValues(c, split);
      NAMES.forEach((n, i) => assert.deepEqual(resumed[i], whole[i], `${n} differs`));
    });
}

test('checkpoint holds hyper-parameters, steps and buffers under documented names', () => {
  const c = fixture.cases.find((x) => x.name.startsWith('lookahead(radam)'))!;
  const params = makeParams();
  const opt = build(c, params);
  for (let t = 0; t < 4; t++) {
    setGrads(params, t);
    opt.step();
  }
  const sd = opt.stateDict();
  assert.equal(sd.kind, 'Lookahead(RAdam)');
  assert.deepEqual(sd.groups, [
    {
      hyper: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, degenerateToSgd: true, lr: 0.01 },
      params: [0, 1],
    },
  ]);
  // b had no gradient at step 4 (index 3): its step count lags
  assert.deepEqual(sd.scalars, {
    'state.0.step': 4,
    'state.1.step': 3,
    'lookahead.counter': 4,
    'lookahead.k': 6,
    'lookahead.alpha': 0.8,
  });
  assert.deepEqual(Object.keys(sd.tensors).sort(), [
    'lookahead.slow.0',
    'lookahead.slow.1',
    'state.0.exp_avg',
    'state.0.exp_avg_sq',
    'state.1.exp_avg',
    'state.1.exp_avg_sq',
  ]);
  dispose([sd.tensors, Object.values(params)]);
  opt.dispose();
});

test('a loaded checkpoint restores the lr; a failed load changes nothing', () => {
  const w = tensor([1, 2], [2]).requiresGrad_();
  const a = new SGD([w], { lr: 0.1, momentum: 0.9 });
  w.setGrad(tensor([1, 1], [2]));
  a.step();
  a.paramGroups[0]!.lr = 0.05;
  const sd = a.stateDict();
  const b = new SGD([w], { lr: 0.1, momentum: 0.9 });
  b.loadStateDict(sd);
  assert.equal(b.paramGroups[0]!.lr, 0.05);
  const bad = { ...sd, tensors: { ...sd.tensors, 'state.0.momentum_buffer': tensor([1, 2, 3], [3]) } };
  const fresh = new SGD([w], { lr: 0.3, momentum: 0.9 });
  assert.throws(() => fresh.loadStateDict(bad), /shape/);
  assert.equal(fresh.paramGroups[0]!.lr, 0.3);
  assert.deepEqual(fresh.stateDict().tensors, {});
  dispose([sd.tensors, bad.tensors, w]);
  [a, b, fresh].forEach((o) => o.dispose());
});

test('LRScheduler resumes from its state', () => {
  const w = tensor([1], [1]).requiresGrad_();
  const run = (split: number | null): number[] => {
    let opt = new SGD([w], { lr: 1 });
    let sched = new LRScheduler(opt, multiStep([2, 4], 0.5));
    const lrs: number[] = [];
    for (let e = 0; e < 6; e++) {
      if (e === split) {
        const s = JSON.parse(JSON.stringify(sched.stateDict())) as ReturnType<LRScheduler['stateDict']>;
        opt = new SGD([w], { lr: 123 }); // the lr in a fresh optimiser does not matter: the state has the base lrs
        sched = new LRScheduler(opt, multiStep([2, 4], 0.5));
        sched.loadStateDict(s);
      }
      lrs.push(opt.paramGroups[0]!.lr);
      sched.step();
    }
    return lrs;
  };
  assert.deepEqual(run(3), run(null));
  assert.deepEqual(run(null), [1, 1, 0.5, 0.5, 0.25, 0.25]);
  w.dispose();
});
