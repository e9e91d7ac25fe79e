// CARSO on a TorchScript classifier (the forward_taps / tap_names convention):
// the scripted twin of the shipped FmnistCNN reports the same taps the hooks
// collect on carso's own FmnistCNN, and the shipped purifier built on either
// gives the same logits and input gradients.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dispose, grad, manualSeed, noGrad, rand, randn, tidy, type Tensor } from '../../src/tensor/index.js';
import { ScriptModule } from '../../src/nn/index.js';
import { createModel } from '../../src/models/index.js';
import { loadModule } from '../../src/io/index.js';
import { Carso } from '../../src/carso/carso.js';
import { Taps } from '../../src/carso/taps.js';
import { FMNIST_CNN_TAPS, defaultTapNames } from '../../src/carso/geometry.js';
import { checkTensor } from '../helpers.js';
import { torchFiles, torchUnavailable } from '../fixtures.js';
import { SHIPPED_PURIFIER } from '../../src/cli/eval.js';

const why = torchUnavailable();
let files = '';
before(() => {
  if (why === null) files = torchFiles();
});

describe('a TorchScript classifier in CARSO', { skip: why ?? false }, () => {
  test("its reported taps are the hooked taps of carso's FmnistCNN with the same weights", () => {
    const scripted = ScriptModule.load(join(files, 'scripted.pt')).eval();
    const cnn = createModel('fmnist-cnn').eval();
    loadModule(join(files, 'plain.pt'), cnn);
    assert.deepEqual(defaultTapNames(scripted), [...FMNIST_CNN_TAPS]);
    const a = new Taps(scripted, ['4', '8']);
    const b = new Taps(cnn, ['4', '8']);
    manualSeed(0);
    const x = rand([3, 1, 28, 28]);
    tidy(() => {
      const ca = a.capture(x);
      const cb = b.capture(x);
      assert.deepEqual(ca.order, ['4', '8']);
      // NOTE: exact: with the graph optimiser off (ScriptModule's default) the interpreter calls the
      // same ATen kernels, in the same order, on the same inputs, in the same process
      ca.taps.forEach((t, i) => checkTensor(t, cb.taps[i]!, `tap ${ca.order[i]}`, 0, 0));
      checkTensor(ca.output, cb.output, 'output', 0, 0);
    });
    assert.throws(() => new Taps(scripted, ['3']), /has no tap\(s\) 3 \(it reports: 2, 4, 6, 8\)/);
    const plain = ScriptModule.load(join(files, 'bn-scripted.pt'));
    assert.equal(defaultTapNames(plain), null);
    assert.throws(() => new Taps(plain, ['bn']), /reports no taps \(no forward_taps \/ tap_names\)/);
    dispose([x, a, b]);
    [scripted, cnn, plain].forEach((m) => m.dispose());
  });

  test('the shipped purifier on the scripted classifier: same logits and input gradient as on FmnistCNN', () => {
    const scripted = ScriptModule.load(join(files, 'scripted.pt'));
    const cnn = createModel('fmnist-cnn');
    loadModule(join(files, 'plain.pt'), cnn);
    const [cs, cc] = [Carso.load(scripted, SHIPPED_PURIFIER), Carso.load(cnn, SHIPPED_PURIFIER)];
    assert.deepEqual(cs.tapNames, cc.tapNames);
    manualSeed(1);
    const x = rand([2, 1, 28, 28]);
    const z = randn([8, 2, cs.geometry.latentDim]);
    const run = (c: Carso): [Tensor, Tensor] =>
      tidy(() => {
        const xr = x.clone().requiresGrad_();
        const logits = c.forwardWithLatents(xr, z);
        // NOTE: a softmax-weighted sum: the raw aggregated logits reach the thousands (README)
        return [logits.detach(), grad(logits.logSoftmax(1).select(1, 0).sum(), [xr])[0]!];
      });
    const [ls, gs] = run(cs);
    const [lc, gc] = run(cc);
    // NOTE: exact, as the taps above: the backward also runs the same autograd formulas (the
    // optimiser's symbolic differentiation is off), so nothing differs to be amplified by the
    // aggregation, whose doubly-exponential weights would magnify any upstream difference
    checkTensor(ls, lc, 'CARSO logits', 0, 0);
    checkTensor(gs, gc, 'CARSO input gradient', 0, 0);
    assert.ok(noGrad(() => gs.abs().sum().item()) > 0, 'a nonzero gradient through forward_taps');
    dispose([x, z, ls, gs, lc, gc]);
    [cs, cc].forEach((c) => c.dispose());
    [scripted, cnn].forEach((m) => m.dispose());
  });
});
