// Layers against PyTorch 1.13 fixtures (test/fixtures/gen_nn.py): seeded init
// equals PyTorch's bit for bit; forward outputs and BatchNorm running statistics
// match over a train/eval sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { manualSeed, tidy, type Tensor } from '../../src/tensor/index.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Linear, type Module } from '../../src/nn/index.js';
import { checkDraws, checkTensor } from '../helpers.js';
import { FIXTURES, readFixture } from '../fixtures.js';

// The carso twin of each PyTorch constructor in gen_nn.py's CASES.
const CASES: Record<string, () => Module> = {
  linear: () => new Linear(5, 3),
  linear_nobias: () => new Linear(6, 2, false),
  conv2d: () => new Conv2d(3, 4, 3),
  conv2d_options: () => new Conv2d(4, 6, [3, 2], { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2, bias: false }),
  conv2d_asympad: () => new Conv2d(3, 4, 3, { stride: 2, padding: [0, 1, 0, 1] }),
  conv_transpose2d: () => new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
  conv_transpose2d_dilation: () => new ConvTranspose2d(2, 3, [2, 3], { dilation: 2 }),
  batchnorm2d: () => new BatchNorm2d(3),
  batchnorm1d: () => new BatchNorm1d(4, { momentum: null, affine: false }),
  batchnorm2d_notrack: () => new BatchNorm2d(2, { eps: 1e-3, momentum: 0.3, trackRunningStats: false }),
};

/** `tol` 'draws': a seeded init (checkDraws: one rounding of the bound); a number: atol = rtol. */
function checkState(actual: Map<string, Tensor>, expected: Map<string, Tensor>, label: string, tol: number | 'draws'): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()], `${label}: state-dict keys`);
  for (const [k, t] of expected) {
    assert.equal(actual.get(k)!.dtype, t.dtype, `${label}: ${k} dtype`);
    if (tol === 'draws') checkDraws(actual.get(k)!, t, `${label}: ${k}`);
    else checkTensor(actual.get(k)!, t, `${label}: ${k}`, tol, tol);
  }
}

test('every layer fixture has a carso case', () => {
  const files = readdirSync(join(FIXTURES, 'nn')).map((f) => f.replace('.safetensors', ''));
  const layerFiles = files.filter((f) => f !== 'dtypes' && f !== 'reference_cnn').sort();
  assert.deepEqual(layerFiles, Object.keys(CASES).sort());
});

for (const [name, make] of Object.entries(CASES)) {
  test(`${name}: seeded init equals PyTorch's (same draws, to one rounding)`, () => {
    const fx = readFixture(name);
    manualSeed(Number(fx.metadata['seed']));
    const m = make();
    checkState(m.stateDict(), fx.group('init'), name, 'draws');
    m.dispose();
  });

  test(`${name}: forward and state after ${readFixture(name).metadata['modes']} match PyTorch`, () => {
    const fx = readFixture(name);
    const m = make();
    m.loadStateDict(fx.group('start'));
    (fx.metadata['modes'] ?? '').split(',').forEach((mode, i) => {
      m.train(mode === 'train');
      tidy(() => checkTensor(m.call(fx.get(`x${i}`)), fx.get(`y${i}`), `${name} step ${i} (${mode})`, 1e-5, 1e-5));
    });
    checkState(m.stateDict(), fx.group('final'), `${name} final`, 1e-6);
    m.dispose();
  });
}
