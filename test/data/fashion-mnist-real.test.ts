// The real Fashion-MNIST of the Debian package dataset-fashion-mnist, when
// installed (skipped otherwise). Expected values were read independently with
// Python's gzip module: first labels and the byte sums of the first images.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { DataLoader } from '../../src/data/loader.js';
import { FASHION_MNIST_ROOT, loadFashionMnist } from '../../src/data/mnist.js';
import { loadDataset } from '../../src/data/registry.js';
import { dispose } from '../../src/tensor/index.js';

const installed = existsSync(`${FASHION_MNIST_ROOT}/t10k-labels-idx1-ubyte.gz`);
const skip = installed ? false : `Fashion-MNIST not installed in ${FASHION_MNIST_ROOT} (apt-get install dataset-fashion-mnist)`;

const sum = (a: Uint8Array): number => a.reduce((s, v) => s + v, 0);

test('real Fashion-MNIST: sizes, shapes, first labels and images', { skip }, (t) => {
  let t0 = performance.now();
  const train = loadDataset('fashion-mnist'); // default root: the Debian package's folder
  t.diagnostic(`train set loaded (gunzip + parse) in ${(performance.now() - t0).toFixed(0)} ms`);
  t0 = performance.now();
  const testSet = loadFashionMnist({ split: 'test' });
  assert.equal(train.length, 60000);
  assert.equal(testSet.length, 10000);
  assert.deepEqual(train.imageShape, [1, 28, 28]);
  assert.deepEqual(Array.from(testSet.labels.subarray(0, 12)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5]);
  assert.equal(testSet.classes[testSet.labels[0]!], 'Ankle boot');
  assert.deepEqual(Array.from(train.labels.subarray(0, 12)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9]);
  assert.equal(sum(testSet.image(0)), 33456);
  assert.equal(sum(train.image(0)), 76247);
  const counts = new Array<number>(10).fill(0);
  for (const l of testSet.labels) counts[l]! += 1;
  assert.deepEqual(counts, new Array<number>(10).fill(1000));
});

test('real Fashion-MNIST: time per 128-batch', { skip }, (t) => {
  const ds = loadFashionMnist();
  for (const [what, augment] of [
    ['plain', undefined],
    ['crop pad 2 + flip', { cropPadding: 2, flip: true }],
  ] as const) {
    const loader = new DataLoader(ds, { batchSize: 128, shuffle: true, seed: 0, augment });
    let n = 0;
    const t0 = performance.now();
    for (const b of loader) {
      assert.deepEqual(b.x.shape, [128, 1, 28, 28]);
      dispose([b.x, b.y]);
      if (++n === 200) break;
    }
    const ms = (performance.now() - t0) / n;
    t.diagnostic(`${what}: ${ms.toFixed(3)} ms per 128-batch (shuffled, x float32 + y int64 tensors)`);
    // NOTE: a loose bound (measured ~0.3-1 ms) that only catches a per-pixel tensor-op regression.
    assert.ok(ms < 50, `${what}: ${ms} ms per batch`);
  }
});
