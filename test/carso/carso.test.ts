// The CARSO wrapper on the tiny configuration (tiny.ts): inference shape and
// batching, N = 0, the frozen classifier, end-to-end input gradients against
// float64 finite differences, and the training-mode forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad, memoryStats, noGrad, rand, randn, tidy, type Tensor } from '../../src/tensor/index.js';
import { PGD } from '../../src/attacks/index.js';
import { gradcheck } from '../helpers.js';
import { TINY_CLASSES, TINY_GEOMETRY, tinyCarso } from './tiny.js';

test('forward: [B, K] logits, one batched classifier call on the N x B reconstructions, Model interface', () => {
  const carso = tinyCarso(0).eval();
  assert.equal(carso.stochastic, true);
  const batches: number[] = [];
  const remove = carso.classifier.registerForwardHook((_m, input) => void batches.push(input.size(0)));
  const out = noGrad(() => tidy(() => carso.forward(rand([3, 1, 12, 12]))));
  remove();
  assert.deepEqual(out.shape, [3, TINY_CLASSES]);
  assert.deepEqual(batches, [3, 8 * 3], 'the input, then all 8 x 3 reconstructions at once');
  assert.ok(out.isfinite().all().item() === 1);
  out.dispose();
  // nothing outlives the enclosing tidy, with or without a backward pass through the whole pipeline
  const x = rand([2, 1, 12, 12]);
  const live = memoryStats().liveTensors;
  noGrad(() => tidy(() => void carso.forward(x)));
  tidy(() => {
    const xr = x.detach().requiresGrad_();
    grad(carso.forward(xr).sum(), [xr]);
  });
  assert.equal(memoryStats().liveTensors, live);
  carso.dispose();
});

test('stochastic with N > 0; N = 0 is one deterministic z = 0', () => {
  const carso = tinyCarso(0).eval();
  const x = rand([2, 1, 12, 12]);
  const run = (): number[] => noGrad(() => tidy(() => carso.forward(x).toArray()));
  assert.notDeepEqual(run(), run());
  carso.samples = 0;
  assert.deepEqual(run(), run());
  const z0 = noGrad(() => tidy(() => carso.forwardWithLatents(x, randn([1, 2, 3]).mul(0)).toArray()));
  assert.deepEqual(run(), z0);
  carso.dispose();
});

test('the classifier is frozen: eval mode, no parameter requires grad, none among purifierParameters()', () => {
  const carso = tinyCarso(0);
  const own = new Set(carso.classifier.parameters());
  assert.ok(carso.classifier.parameters().every((p) => !p.requiresGrad));
  assert.ok(!carso.purifierParameters().some((p) => own.has(p)));
  assert.equal(carso.purifierParameters().length, carso.purifier.parameters().length);
  carso.train();
  assert.equal(carso.classifier.training, false);
  assert.equal(carso.purifier.training, true);
  assert.throws(() => carso.forward(rand([1, 1, 12, 12])), /training mode; call eval\(\)/);
  carso.dispose();
});

test('input gradient of the aggregated output is nonzero and = float64 finite differences (fixed latents)', () => {
  const carso = tinyCarso(3).eval();
  carso.classifier.to('float64');
  carso.purifier.to('float64');
  // NOTE: trained-like BatchNorm statistics so eval mode is not the identity
  noGrad(() =>
    carso.purifier.namedBuffers().forEach(([k, t]) => k.endsWith('running_mean') && t.copy_(randn(t.shape, 'float64').mul(0.1))),
  );
  const x = rand([2, 1, 12, 12], 'float64');
  const z = randn([3, 2, 3], 'float64');
  const w = randn([2, TINY_CLASSES], 'float64');
  const f = (xi: Tensor): Tensor => carso.forwardWithLatents(xi, z).mul(w).sum();
  tidy(() => {
    const xr = x.detach().requiresGrad_();
    const [g] = grad(f(xr), [xr]);
    assert.ok(g!.abs().max().item() > 1e-6, 'nonzero input gradient');
  });
  gradcheck(f, [x], 'CARSO', 1e-6, 1e-5);
  carso.dispose();
});

test('training forward: reconstructions in (0, 1), posterior parameters, gradients only into the purifier', () => {
  const carso = tinyCarso(0).train();
  tidy(() => {
    const x = rand([4, 1, 12, 12]);
    const { xHat, mu, logvar } = carso.forwardTrain(x);
    assert.deepEqual(
      [xHat.shape, mu.shape, logvar.shape],
      [
        [4, 1, 12, 12],
        [4, TINY_GEOMETRY.latentDim],
        [4, TINY_GEOMETRY.latentDim],
      ],
    );
    assert.ok(xHat.gt(0).all().item() === 1 && xHat.lt(1).all().item() === 1);
    xHat.binaryCrossEntropy(x, 'sum').add(mu.square().sum()).backward();
  });
  const named = carso.purifier.namedParameters();
  const withGrad = named.filter(([, p]) => tidy(() => (p.grad?.abs().sum().item() ?? 0) > 0)).map(([k]) => k.split('.')[0]);
  assert.deepEqual(
    [...new Set(withGrad)],
    ['input_compressor', 'repr_compressors', 'repr_fcn_compressor', 'joint_fcn_compressor', 'neck', 'decoder'],
  );
  assert.ok(carso.classifier.parameters().every((p) => p.grad === null));
  carso.dispose();
});

test('an attack runs end to end on CARSO (PGD with EOT over the latent noise): adversarial points in the ball, finite gradients', () => {
  const carso = tinyCarso(5).eval();
  tidy(() => {
    const x = rand([3, 1, 12, 12]);
    const y = noGrad(() => carso.forward(x).argmax(1));
    const r = new PGD({ eps: 0.1, steps: 2, eotIter: 2 }).attack(carso, x, y);
    assert.ok(r.xAdv.sub(x).abs().max().item() <= 0.1 + 1e-6);
    assert.deepEqual(r.nanGrad, [false, false, false]);
  });
  carso.dispose();
});
