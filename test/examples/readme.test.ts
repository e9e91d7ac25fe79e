// The README's library example, verbatim but for the import paths: it must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rand, randint, grad, tidy, manualSeed } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/index.js';
import { loadModule } from '../../src/io/index.js';
import { APGD, asModel } from '../../src/attacks/index.js';

test('README example: load the shipped classifier, take a gradient, run APGD', () => {
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

  assert.deepEqual(g!.shape, [8, 1, 28, 28]);
  assert.ok(g!.abs().sum().item() > 0, 'nonzero input gradient');
  assert.deepEqual(xAdv.shape, x.shape);
  assert.ok(xAdv.sub(x).normLinf().max().item() <= 0.1 + 1e-6);
  assert.equal(success.length, 8);
});
