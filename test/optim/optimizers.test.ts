// SGD, Adam, AdamW, RAdam and Lookahead against PyTorch 1.13 (test/fixtures/gen_optim.py):
// parameter values after every step of a fixed gradient sequence, within 1e-6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, dispose, memoryStats } from '../../src/tensor/index.js';
import { SGD, Adam, RAdam, Lookahead, type Hyper } from '../../src/optim/index.js';
import { checkTensor } from '../helpers.js';
import { fixture, makeParams, setGrads, build, NAMES } from './fixture.js';

for (const c of fixture.cases)
  test(`${c.name}: matches PyTorch for ${c.steps} steps (1e-6)`, () => {
    const params = makeParams();
    const opt = build(c, params);
    let live = 0;
    for (let t = 0; t < c.steps; t++) {
      setGrads(params, t);
      opt.step();
      // NOTE: all state exists after step 1 (b gets none at step 4 only): the count must not grow after.
      if (t === 0) live = memoryStats().liveTensors;
      else assert.equal(memoryStats().liveTensors, live, `step ${t + 1} leaked tensors`);
      for (const n of NAMES) checkTensor(params[n]!, c.expected[t]![n]!, `${c.name}: ${n} after step ${t + 1}`, 1e-6, 0);
    }
    if (c.slow !== undefined && opt instanceof Lookahead)
      opt.slowWeights().forEach((s, i) => checkTensor(s, c.slow![NAMES[i]!]!, `${c.name}: slow ${NAMES[i]}`, 1e-6, 0));
    opt.dispose();
    dispose(Object.values(params));
  });

test('step uses the gradients backward() accumulates; zeroGrad clears them', () => {
  const w = tensor([1, -2, 3], [3]).requiresGrad_();
  const opt = new SGD([w], { lr: 0.1 });
  tidy(() => w.mul(w).sum().backward()); // d/dw sum(w^2) = 2w
  opt.step();
  checkTensor(w, [0.8, -1.6, 2.4], 'w - 0.1 * 2w', 1e-6, 0);
  opt.zeroGrad();
  assert.equal(w.grad, null);
  opt.step(); // no gradient: nothing moves
  checkTensor(w, [0.8, -1.6, 2.4], 'unchanged without grad', 1e-6, 0);
  assert.equal(w.requiresGrad, true);
  w.dispose();
});

test('step inside a caller tidy keeps the optimiser state alive', () => {
  const w = tensor([1, 2], [2]).requiresGrad_();
  const opt = new Adam([w], { lr: 0.1 });
  tidy(() => {
    w.setGrad(tensor([1, 1], [2]));
    opt.step();
  });
  const sd = opt.stateDict();
  assert.deepEqual(Object.keys(sd.tensors).sort(), ['state.0.exp_avg', 'state.0.exp_avg_sq']);
  assert.ok(sd.tensors['state.0.exp_avg']!.toArray().every((v) => Math.abs(v - 0.1) < 1e-7));
  dispose([sd.tensors, w]);
  opt.dispose();
});

test('param groups: each has its own lr; defaults fill the rest', () => {
  const [a, b] = [tensor([1], [1]).requiresGrad_(), tensor([1], [1]).requiresGrad_()];
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1, momentum: 0.9 });
  assert.deepEqual(
    opt.paramGroups.map((g) => [g.lr, g.momentum]),
    [
      [0.1, 0.9],
      [0.5, 0.9],
    ],
  );
  dispose([a, b]);
});

test('constructor and loadStateDict refuse what PyTorch refuses', () => {
  const w = tensor([1], [1]).requiresGrad_();
  const frozen = tensor([1], [1]);
  assert.throws(() => new SGD([frozen], { lr: 0.1 }), /require grad/);
  assert.throws(() => new SGD([w, w], { lr: 0.1 }), /twice/);
  assert.throws(() => new SGD([w], { lr: 0.1, nesterov: true }), /Nesterov/);
  assert.throws(() => new SGD([w], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov/);
  const adam = new Adam([w], { lr: 0.1 });
  assert.throws(() => new RAdam([w], { lr: 0.1 }).loadStateDict(adam.stateDict()), /checkpoint is for Adam/);
  const la = new Lookahead<Hyper>(new RAdam([w], { lr: 0.1 }));
  assert.throws(() => la.loadStateDict(adam.stateDict()), /Lookahead\(RAdam\)/);
  la.dispose();
  dispose([w, frozen]);
});
