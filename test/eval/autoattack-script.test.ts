// AutoAttack on a TorchScript classifier judges every point as it does on the
// same network built from carso's layers: the scripted twin of the shipped
// Fashion-MNIST PGD-AT model and FmnistCNN with its weights (read from the .pt
// state dict), on four test images.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { asModel } from '../../src/attacks/index.js';
import { loadDataset, makeBatch } from '../../src/data/index.js';
import { FASHION_MNIST_ROOT } from '../../src/data/mnist.js';
import { range } from '../../src/eval/accuracy.js';
import { runAutoAttack } from '../../src/eval/autoattack.js';
import { loadModule } from '../../src/io/index.js';
import { createModel } from '../../src/models/index.js';
import { ScriptModule, type Module } from '../../src/nn/index.js';
import { dispose } from '../../src/tensor/index.js';
import { checkTensor } from '../helpers.js';
import { torchFiles, torchUnavailable } from '../fixtures.js';

// NOTE: test images 4-7: three the PGD-AT model keeps at eps 0.1 and one AutoAttack breaks
const FIRST = 4;
const N = 4;
const EPS = 0.1;
const skip =
  torchUnavailable() ??
  (existsSync(`${FASHION_MNIST_ROOT}/t10k-labels-idx1-ubyte.gz`) ? false : 'Fashion-MNIST not installed (dataset-fashion-mnist)');
let files = '';
before(() => {
  if (skip === false) files = torchFiles();
});

test(
  `AutoAttack standard (Linf ${EPS}, test images ${FIRST}-${FIRST + N - 1}): identical robust flags on the TorchScript model and on FmnistCNN`,
  { skip },
  (t) => {
    const ds = loadDataset('fashion-mnist', { split: 'test', limit: FIRST + N });
    const { x, y } = makeBatch(ds, range(FIRST, N));
    const scripted = ScriptModule.load(join(files, 'scripted.pt')).eval();
    const cnn = createModel('fmnist-cnn').eval();
    loadModule(join(files, 'plain.pt'), cnn);
    const run = (m: Module) => runAutoAttack(asModel(m), x, y, { norm: 'Linf', eps: EPS, version: 'standard', seed: 0 });
    const a = run(scripted);
    const b = run(cnn);
    t.diagnostic(`robust: torchscript ${a.robustFlags.map(Number).join('')}, fmnist-cnn ${b.robustFlags.map(Number).join('')}`);
    assert.deepEqual(a.robustFlags, b.robustFlags);
    assert.deepEqual(
      a.perAttack.map((r) => r.robust),
      b.perAttack.map((r) => r.robust),
    );
    assert.ok(a.robustFlags.some((f) => f) && a.robustFlags.some((f) => !f), 'both outcomes occur, so the comparison can fail');
    // NOTE: exact: the same kernels and RNG draws in one process give the same adversarial images
    checkTensor(a.xAdv, b.xAdv, 'adversarial images', 0, 0);
    dispose([x, y, a.xAdv, b.xAdv]);
    scripted.dispose();
    cnn.dispose();
  },
);
