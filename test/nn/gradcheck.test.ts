// Float64 finite-difference checks of every layer's forward w.r.t. its input and
// its parameters (substituted by dotted name through Module.withTensors).
import { test } from 'node:test';
import { manualSeed, randn, type Tensor } from '../../src/tensor/index.js';
import * as nn from '../../src/nn/index.js';
import { gradcheck } from '../helpers.js';

// name: [module, input shape, train mode]
const LAYERS: [string, () => nn.Module, number[], boolean][] = [
  ['Linear', () => new nn.Linear(3, 2), [4, 3], true],
  ['Conv2d', () => new nn.Conv2d(2, 3, 3, { padding: 1 }), [2, 2, 4, 4], true],
  [
    'Conv2d asym pad, groups, dilation',
    () => new nn.Conv2d(2, 4, [2, 3], { stride: 2, padding: [0, 1, 0, 1], groups: 2, dilation: [1, 2] }),
    [1, 2, 5, 5],
    true,
  ],
  ['ConvTranspose2d', () => new nn.ConvTranspose2d(2, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }), [1, 2, 3, 3], true],
  ['BatchNorm2d train', () => new nn.BatchNorm2d(2), [3, 2, 2, 2], true],
  ['BatchNorm2d eval', () => new nn.BatchNorm2d(2), [3, 2, 2, 2], false],
  ['BatchNorm1d train', () => new nn.BatchNorm1d(3), [4, 3], true],
  ['ReLU', () => new nn.ReLU(), [2, 5], true],
  ['LeakyReLU', () => new nn.LeakyReLU(0.2), [2, 5], true],
  ['SiLU', () => new nn.SiLU(), [2, 5], true],
  ['Sigmoid', () => new nn.Sigmoid(), [2, 5], true],
  ['Softplus', () => new nn.Softplus(2), [2, 5], true],
  ['Tanh', () => new nn.Tanh(), [2, 5], true],
  ['MaxPool2d', () => new nn.MaxPool2d(2), [1, 2, 4, 4], true],
  ['AvgPool2d', () => new nn.AvgPool2d(3, 2, 1), [1, 2, 5, 5], true],
  ['AdaptiveAvgPool2d', () => new nn.AdaptiveAvgPool2d(2), [1, 2, 5, 3], true],
  ['Flatten', () => new nn.Flatten(), [2, 2, 3], true],
  ['Identity', () => new nn.Identity(), [2, 3], true],
  ['Dropout eval', () => new nn.Dropout(0.5), [2, 3], false],
  [
    'Sequential (dotted names)',
    () => new nn.Sequential(new nn.Conv2d(1, 2, 3), new nn.SiLU(), new nn.Flatten(), new nn.Linear(8, 2)),
    [2, 1, 4, 4],
    true,
  ],
];

for (const [name, make, shape, training] of LAYERS) {
  test(`gradcheck ${name} w.r.t. input and parameters`, () => {
    manualSeed(7);
    const m = make().to('float64').train(training);
    const names = m.namedParameters().map(([n]) => n);
    const params = m.namedParameters().map(([, p]) => p);
    // NOTE: sin() makes the scalar depend non-trivially on every output (a plain sum of BatchNorm outputs is constant).
    const f = (x: Tensor, ...ps: Tensor[]): Tensor =>
      m
        .withTensors(new Map(names.map((n, i) => [n, ps[i]!])), () => m.call(x))
        .sin()
        .sum();
    gradcheck(f, [randn(shape, 'float64'), ...params], `${name} [${['input', ...names].join(', ')}]`);
    m.dispose();
  });
}
