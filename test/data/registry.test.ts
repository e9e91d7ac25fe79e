import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DATASET_NAMES, loadDataset } from '../../src/data/registry.js';
import { fixtures } from './fixtures.js';

test('registry: every name loads its format; unknown names list the valid ones', () => {
  assert.deepEqual(DATASET_NAMES, ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'tiny-imagenet']);
  const roots = {
    'fashion-mnist': 'idx/gz',
    mnist: 'idx/raw',
    cifar10: 'cifar10',
    cifar100: 'cifar100',
    'tiny-imagenet': 'tiny',
  };
  const shapes = {
    'fashion-mnist': [1, 6, 7],
    mnist: [1, 6, 7],
    cifar10: [3, 32, 32],
    cifar100: [3, 32, 32],
    'tiny-imagenet': [3, 64, 64],
  };
  for (const name of DATASET_NAMES) {
    const ds = loadDataset(name, { root: join(fixtures(), roots[name]), split: 'test', limit: 2 });
    assert.equal(ds.name, name);
    assert.equal(ds.length, 2);
    assert.deepEqual(ds.imageShape, shapes[name]);
  }
  assert.throws(
    () => loadDataset('imagenet'),
    /unknown dataset "imagenet"; valid names: fashion-mnist, mnist, cifar10, cifar100, tiny-imagenet/,
  );
  assert.throws(() => loadDataset('toString'), /unknown dataset/);
});

test('registry: default roots are $CARSO_DATA/<name>, and the error says where it looked', () => {
  const before = process.env['CARSO_DATA'];
  process.env['CARSO_DATA'] = '/nonexistent/carso-data';
  try {
    assert.throws(() => loadDataset('cifar10'), /cifar10: directory \/nonexistent\/carso-data\/cifar10 does not exist/);
    assert.throws(
      () => loadDataset('tiny-imagenet'),
      /\/nonexistent\/carso-data\/tiny-imagenet does not exist.*tiny-imagenet-200.zip/,
    );
    assert.throws(() => loadDataset('fashion-mnist', { root: '/nonexistent/fm' }), /apt-get install dataset-fashion-mnist/);
  } finally {
    if (before === undefined) delete process.env['CARSO_DATA'];
    else process.env['CARSO_DATA'] = before;
  }
});
