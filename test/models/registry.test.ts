// createModel: every name builds, the dataset option sets classes, normalisation and
// pooling, and misuse fails naming the valid choices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, zeros } from '../../src/tensor/index.js';
import {
  CIFAR100_NORM,
  DATASETS,
  FmnistCNN,
  PreActResNet18,
  ReferenceCNN,
  TINY_IMAGENET_NORM,
  WideResNet,
  createModel,
  modelDatasets,
  modelNames,
} from '../../src/models/index.js';

test('the registry names', () => {
  assert.deepEqual(modelNames, ['reference-cnn', 'fmnist-cnn', 'preact-resnet18', 'wrn-16-4', 'wrn-28-10']);
  assert.throws(
    () => createModel('resnet-9000'),
    /unknown model 'resnet-9000' \(valid: reference-cnn, fmnist-cnn, preact-resnet18, wrn-16-4, wrn-28-10\)/,
  );
});

// NOTE: wrn-28-10 gets no forward pass here (5 GFLOP per image); its structure is checked in wide-resnet.test.ts.
for (const name of modelNames.filter((n) => n !== 'wrn-28-10'))
  for (const dataset of modelDatasets(name))
    test(`${name} on ${dataset}: [2, C, H, W] -> [2, classes]`, () => {
      const d = DATASETS[dataset];
      const m = createModel(name, { dataset }).eval();
      assert.deepEqual(noGrad(() => m.call(zeros([2, d.channels, d.size, d.size]))).shape, [2, d.classes]);
      m.dispose();
    });

test('defaults: the first data set of each model', () => {
  const cases = [
    ['reference-cnn', ReferenceCNN, 'fashion-mnist'],
    ['fmnist-cnn', FmnistCNN, 'fashion-mnist'],
    ['preact-resnet18', PreActResNet18, 'cifar10'],
    ['wrn-16-4', WideResNet, 'cifar10'],
  ] as const;
  for (const [name, cls, dataset] of cases) {
    const m = createModel(name);
    assert.ok(m instanceof cls, name);
    assert.equal(modelDatasets(name)[0], dataset);
    m.dispose();
  }
});

test('WRN presets and the dataset option: classes, normalisation, autopool, depth/width', () => {
  const wrn = (name: string, dataset?: string): WideResNet => createModel(name, dataset ? { dataset } : {}) as WideResNet;
  const c10 = wrn('wrn-28-10');
  assert.deepEqual([c10.depth, c10.width, c10.classes, c10.autopool], [28, 10, 10, false]);
  assert.deepEqual(c10.normalization, DATASETS.cifar10.normalization);
  c10.dispose();
  const c100 = wrn('wrn-16-4', 'cifar100'); // NOTE: the dataset logic is shared by the presets; 16-4 builds fast
  assert.deepEqual([c100.classes, c100.autopool, c100.normalization], [100, false, CIFAR100_NORM]);
  c100.dispose();
  const tiny = wrn('wrn-16-4', 'tiny-imagenet');
  assert.deepEqual([tiny.classes, tiny.autopool, tiny.normalization], [200, true, TINY_IMAGENET_NORM]);
  tiny.dispose();
  const small = wrn('wrn-16-4');
  assert.deepEqual([small.depth, small.width, small.features], [16, 4, 256]);
  small.dispose();
  const p100 = createModel('preact-resnet18', { dataset: 'cifar100' }) as PreActResNet18;
  assert.deepEqual([p100.classes, p100.normalization], [100, CIFAR100_NORM]);
  p100.dispose();
});

test('incompatible or unknown data sets are rejected, naming what fits', () => {
  assert.throws(
    () => createModel('preact-resnet18', { dataset: 'tiny-imagenet' }),
    /createModel\('preact-resnet18'\): does not fit dataset 'tiny-imagenet': it takes 32x32 RGB images .* \(cifar10, cifar100\)/,
  );
  assert.throws(
    () => createModel('wrn-28-10', { dataset: 'mnist' }),
    /does not fit dataset 'mnist'.*\(cifar10, cifar100, tiny-imagenet\)/,
  );
  assert.throws(
    () => createModel('fmnist-cnn', { dataset: 'cifar10' }),
    /it takes 28x28 greyscale images \(fashion-mnist, mnist\)/,
  );
  assert.throws(
    () => createModel('wrn-16-4', { dataset: 'imagenet' }),
    /unknown dataset 'imagenet' \(valid: fashion-mnist, mnist, cifar10, cifar100, tiny-imagenet\)/,
  );
  assert.throws(() => modelDatasets('nope'), /unknown model 'nope'/);
});
