// EOT (attacks.md §4.6, §8) and NaN reporting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keep, manualSeed, randn, randnLike, tensor, tidy } from '../../src/tensor/index.js';
import { lossAndGrad } from '../../src/attacks/eot.js';
import { ceLoss } from '../../src/attacks/losses.js';
import { attackNames, ATTACKS, createAttack } from '../../src/attacks/registry.js';
import type { Model } from '../../src/attacks/types.js';
import { checkTensor } from '../helpers.js';
import { convNet, linearModel, tinyModel } from './models.js';

test('EOT on a deterministic model changes nothing (every attack with EOT)', () => {
  const { model, X, Y } = tinyModel();
  for (const name of attackNames().filter((n) => ATTACKS[n]!.eot))
    for (const norm of ATTACKS[name]!.norms)
      tidy(() => {
        const opts = { eps: norm === 'Linf' ? 0.05 : 0.2, norm, nIter: 20, seed: 1 };
        const one = createAttack(name, opts).attack(model, X, Y);
        const three = createAttack(name, { ...opts, eotIter: 3 }).attack(model, X, Y);
        checkTensor(three.xAdv, one.xAdv, `${name} ${norm} eotIter 3 vs 1`, 1e-12, 0);
        assert.deepEqual(three.success, one.success);
        assert.ok(three.queries > one.queries, 'EOT spends eotIter forward passes per gradient');
      });
});

test('lossAndGrad averages gradients over stochastic passes; loss/logits of the last pass', () =>
  tidy(() => {
    manualSeed(0);
    const W = keep(randn([3, 4], 'float64'));
    const b = keep(randn([3], 'float64'));
    const lin = linearModel(W, b);
    // additive logit noise: the input gradient of CE changes per sample, the mean is what EOT returns
    const noisy: Model = { stochastic: true, forward: (x) => lin.forward(x).add(randnLike(lin.forward(x)).mul(0.5)) };
    const x = tensor([0.2, 0.4, 0.6, 0.8, 0.5, 0.5, 0.5, 0.5], [2, 4], 'float64');
    const y = tensor([0, 2], [2], 'int64');
    manualSeed(5);
    const r = lossAndGrad(noisy, x, y, ceLoss, 4);
    assert.equal(r.queries, 4);
    // replay the same 4 noise draws one by one
    manualSeed(5);
    const gs = Array.from({ length: 4 }, () => lossAndGrad(noisy, x, y, ceLoss, 1));
    checkTensor(r.grad, gs.reduce((a, g) => a.add(g.grad), gs[0]!.grad.mul(0)).div(4), 'EOT mean', 1e-12, 0);
    checkTensor(r.loss, gs[3]!.loss, 'last-sample loss', 0, 0);
    checkTensor(r.logits, gs[3]!.logits, 'last-sample logits', 0, 0);
  }));

test('NaN gradients are reported (nanGrad), never as silent robustness', () => {
  const base = convNet(4, 3);
  // sqrt(x₀ − 0.5) is NaN for points whose first pixel is below 0.5: NaN logits, loss and gradient there
  const model: Model = {
    stochastic: false,
    forward: (x) => base.forward(x).add(x.flatten(1).select(1, 0).sub(0.5).sqrt().mul(0).view(-1, 1)),
  };
  const X = keep(
    tensor(
      Array.from({ length: 4 * 64 }, (_, k) => (k % 64 === 0 ? [0.1, 0.9, 0.2, 0.8][k / 64]! : ((k * 37) % 101) / 101)),
      [4, 1, 8, 8],
    ),
  );
  const Y = keep(tidy(() => model.forward(X).argmax(1)));
  for (const name of attackNames())
    for (const norm of ATTACKS[name]!.norms) {
      const r = createAttack(name, { eps: norm === 'Linf' ? 0.05 : 0.2, norm, nIter: 10 }).attack(model, X, Y);
      assert.deepEqual(r.nanGrad, [true, false, true, false], `${name} ${norm} nanGrad`);
      [0, 2].forEach((i) =>
        assert.ok(r.success[i] === true || r.nanGrad[i] === true, `${name} ${norm}: NaN point ${i} silently robust`),
      );
      const finite = tidy(() => r.xAdv.isfinite().all().item());
      assert.equal(finite, 1, `${name} ${norm}: xAdv finite`);
      r.xAdv.dispose();
    }
});
