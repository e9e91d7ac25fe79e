// The README's library example, verbatim but for the import paths: it must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rand, randint, grad, tidy, manualSeed } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/index.js';
import { loadModule } from '../../src/io/index.js';
import { APGD, asModel } from '../../src/attacks/index.js';
import { runAutoAttack, finalEvaluation } from '../../src/eval/index.js';
import { Carso } from '../../src/carso/index.js';

test('README example: shipped classifier, gradient, APGD, AutoAttack, CARSO with AutoAttack rand', { timeout: 600_000 }, () => {
  manualSeed(0);
  const net = createModel('fmnist-cnn');
  loadModule('models/fmnist-cnn-pgd-at/model.safetensors', net); // PyTorch key names
  net.eval();
  const model = asModel(net); // what attacks see: x -> logits

  const x = rand([8, 1, 28, 28]); // NCHW float32 in [0, 1]
  const y = randint(0, 10, [8]);
  const g = tidy(() => {
    // an attack step's gradient
    const xr = x.clone().requiresGrad_();
    return grad(model.forward(xr).crossEntropy(y, 'sum'), [xr])[0];
  });
  const { xAdv, success } = new APGD({ eps: 0.1, norm: 'Linf' }).attack(model, x, y);

  const aa = runAutoAttack(model, x, y, { norm: 'Linf', eps: 0.1, version: 'standard' });
  console.log(`AutoAttack: ${aa.robust.correct} of ${aa.robust.total} robust`);

  const carso = Carso.load(net, 'models/fmnist-carso/purifier.safetensors'); // 8 samples, stable aggregation
  const logits = carso.forward(x); // stochastic, differentiable end to end
  const rnd = runAutoAttack(carso, x, y, { norm: 'Linf', eps: 0.1, version: 'rand' }); // APGD + EOT 20
  const fe = finalEvaluation(carso, rnd.xAdv, y, 10); // each example judged 10 times
  console.log(`CARSO: ${fe.worstOfR.correct} of 8 robust in all 10 draws (single draw: ${fe.single.correct})`);

  assert.deepEqual(g!.shape, [8, 1, 28, 28]);
  assert.ok(g!.abs().sum().item() > 0, 'nonzero input gradient');
  assert.deepEqual(xAdv.shape, x.shape);
  assert.ok(xAdv.sub(x).normLinf().max().item() <= 0.1 + 1e-6);
  assert.equal(success.length, 8);
  assert.deepEqual(logits.shape, [8, 10]);
  assert.equal(aa.robust.total, 8);
  assert.ok(fe.worstOfR.correct <= fe.single.correct && fe.worstOfR.correct <= rnd.clean.correct);
  carso.dispose();
});
