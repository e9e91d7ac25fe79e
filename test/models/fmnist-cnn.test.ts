// The Fashion-MNIST CNN: shapes, PyTorch nn.Sequential key names, parameter count,
// and the single-thread cost of a training step on a batch of 128 (reported next to
// the reference CNN's; not asserted: timings on a shared machine are noisy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getNumThreads, grad, manualSeed, noGrad, rand, randint, setNumThreads, tidy, zeros } from '../../src/tensor/index.js';
import type { Module } from '../../src/nn/index.js';
import { FmnistCNN, ReferenceCNN } from '../../src/models/index.js';

test('[B, 1, 28, 28] -> [B, 10]; the documented layer shapes, keys and 661,194 parameters', () => {
  const m = new FmnistCNN();
  assert.deepEqual(noGrad(() => m.call(zeros([3, 1, 28, 28]))).shape, [3, 10]);
  const shapes = Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, t.shape]));
  // prettier-ignore
  assert.deepEqual(shapes, {
    '0.weight': [16, 1, 3, 3], '0.bias': [16],
    '2.weight': [32, 16, 3, 3], '2.bias': [32],
    '4.weight': [64, 32, 3, 3], '4.bias': [64],
    '6.weight': [64, 64, 3, 3], '6.bias': [64],
    '8.weight': [128, 64, 3, 3], '8.bias': [128],
    '11.weight': [256, 2048], '11.bias': [256],
    '13.weight': [10, 256], '13.bias': [10],
  });
  assert.equal(
    m.parameters().reduce((n, p) => n + p.numel, 0),
    661_194,
  );
  const c = new FmnistCNN(5);
  assert.deepEqual(noGrad(() => c.call(zeros([1, 1, 28, 28]))).shape, [1, 5]);
  m.dispose();
  c.dispose();
});

/**
 * Best-of-`reps` CPU ms of forward + backward (w.r.t. the input and every parameter) on a batch of 128.
 * NOTE: process CPU time, not wall time: on a shared machine it is far less noisy (one thread, so no overlap).
 */
function stepMs(m: Module, reps: number): number {
  const x = rand([128, 1, 28, 28]);
  const y = randint(0, 10, [128]);
  const step = (): void =>
    tidy(() => {
      const xr = x.clone().requiresGrad_();
      const grads = grad(m.call(xr).crossEntropy(y), [xr, ...m.parameters()]);
      assert.ok(grads.every((g) => g !== null));
    });
  step(); // warm-up
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = process.cpuUsage();
    step();
    const used = process.cpuUsage(t0);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

test('forward + backward of a batch of 128, one thread (time reported)', (t) => {
  const threads = getNumThreads();
  setNumThreads(1);
  try {
    manualSeed(0);
    const [fm, ref] = [new FmnistCNN(), new ReferenceCNN()];
    const ms = { fmnist: stepMs(fm, 3), reference: stepMs(ref, 3) };
    t.diagnostic(
      `fmnist-cnn ${ms.fmnist.toFixed(1)} ms, reference-cnn ${ms.reference.toFixed(1)} ms (CPU time, best of 3, input + parameter gradients)`,
    );
    fm.dispose();
    ref.dispose();
  } finally {
    setNumThreads(threads);
  }
});
