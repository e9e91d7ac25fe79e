// Lookahead's slow weights: reading them, loading them into the model (what CARSO
// saves, carso.md 3.6) and evaluating on them temporarily.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, memoryStats } from '../../src/tensor/index.js';
import { Lookahead, SGD, carsoTraining } from '../../src/optim/index.js';
import { checkTensor } from '../helpers.js';

// w = 1, grad = 1, lr = 0.1, k = 3, alpha = 0.5: fast 0.9, 0.8, 0.7 -> slow = 1 + 0.5 (0.7 - 1) = 0.85
function twoSteps(): { w: ReturnType<typeof tensor>; la: Lookahead<{ lr: number }> } {
  const w = tensor([1], [1]).requiresGrad_();
  const la = new Lookahead(new SGD([w], { lr: 0.1 }), { k: 3, alpha: 0.5 });
  for (let t = 0; t < 2; t++) {
    w.setGrad(tensor([1], [1]));
    la.step();
  }
  return { w, la };
}

test('slow weights start as the parameters and move every k steps', () => {
  const { w, la } = twoSteps();
  checkTensor(w, [0.8], 'fast after 2', 1e-6, 0);
  checkTensor(la.slowWeights()[0]!, [1], 'slow before sync', 1e-6, 0);
  assert.equal(la.slowWeights()[0]!.requiresGrad, false);
  la.step(); // third step: sync
  checkTensor(la.slowWeights()[0]!, [0.85], 'slow after sync', 1e-6, 0);
  checkTensor(w, [0.85], 'fast = slow after sync', 1e-6, 0);
  assert.equal(la.counter, 0);
  la.dispose();
  w.dispose();
});

test('withSlowWeights evaluates on the slow weights and restores the fast ones', () => {
  const { w, la } = twoSteps();
  const live = memoryStats().liveTensors;
  const seen = la.withSlowWeights(() => w.item());
  assert.equal(seen, 1);
  checkTensor(w, [0.8], 'fast restored', 1e-6, 0);
  assert.equal(memoryStats().liveTensors, live, 'backup freed');
  assert.throws(
    () =>
      la.withSlowWeights(() => {
        throw new Error('boom');
      }),
    /boom/,
  );
  checkTensor(w, [0.8], 'fast restored after a throw', 1e-6, 0);
  la.loadSlowWeights();
  checkTensor(w, [1], 'slow loaded for saving', 1e-6, 0);
  la.dispose();
  w.dispose();
});

test('carsoTraining: Lookahead(RAdam) k 6 alpha 0.8 at the steady lr, scheduled from init', () => {
  const w = tensor([1], [1]).requiresGrad_();
  const { opt, sched } = carsoTraining([w], 200, 640);
  assert.equal(opt.kind, 'Lookahead(RAdam)');
  assert.equal(opt.k, 6);
  assert.equal(opt.alpha, 0.8);
  assert.deepEqual(sched.baseLrs, [0.064]);
  assert.equal(opt.paramGroups[0]!.lr, 5e-9);
  opt.dispose();
  w.dispose();
});
