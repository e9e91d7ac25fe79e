// CIFAR-10/100 binary loading on generated fixtures: exact bytes, channel
// order (R plane, then G, then B), label choice, limit, corruption errors.
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCifar10, loadCifar100 } from '../../src/data/cifar.js';
import { makeBatch } from '../../src/data/batch.js';
import { dispose } from '../../src/tensor/index.js';
import { CIFAR10, CIFAR100, cifar10TrainLabel, patternImage } from '../fixtures/data/generate.js';
import { copyOf, fixtures } from './fixtures.js';

const c10 = (): string => join(fixtures(), 'cifar10');
const c100 = (): string => join(fixtures(), 'cifar100');

test('CIFAR-10 train: 5 batches concatenated in order, exact pixels and labels', () => {
  const ds = loadCifar10({ root: c10() }); // root holds cifar-10-batches-bin
  assert.equal(ds.length, 5 * CIFAR10.perBatch);
  assert.deepEqual(ds.imageShape, [3, 32, 32]);
  assert.deepEqual(
    Array.from(ds.labels),
    Array.from({ length: ds.length }, (_, n) => cifar10TrainLabel(n)),
  );
  for (let n = 0; n < ds.length; n++) assert.deepEqual(ds.image(n), patternImage(n, 3, 32, 32), `image ${n}`);
  assert.equal(ds.classes[0], 'airplane');
  assert.equal(loadCifar10({ root: c10(), limit: 3 }).length, 3);
});

test('CIFAR-10 test batch: channel order R, G, B in the served tensor', () => {
  const ds = loadCifar10({ root: join(c10(), 'cifar-10-batches-bin'), split: 'test' }); // the folder itself works too
  assert.deepEqual(Array.from(ds.labels), CIFAR10.testLabels);
  const { x, y } = makeBatch(ds, Int32Array.of(0, 2));
  const v = x.toFloat32Array(); // [2, 3, 32, 32]
  const plane = 32 * 32;
  CIFAR10.flat.forEach((value, c) => {
    assert.equal(v[c * plane], Math.fround(value / 255), `channel ${c} first pixel`);
    assert.equal(v[c * plane + plane - 1], Math.fround(value / 255), `channel ${c} last pixel`);
  });
  assert.equal(v[3 * plane + 2 * plane + 31 * 32 + 5], Math.fround(patternImage(102, 3, 32, 32)[2 * plane + 31 * 32 + 5]! / 255));
  assert.deepEqual(y.toArray(), [CIFAR10.testLabels[0], CIFAR10.testLabels[2]]);
  dispose([x, y]);
});

test('CIFAR-100: fine labels by default, coarse on request, exact pixels', () => {
  const fine = loadCifar100({ root: c100() });
  const coarse = loadCifar100({ root: c100(), coarse: true });
  assert.deepEqual(
    Array.from(fine.labels),
    Array.from({ length: CIFAR100.train }, (_, n) => CIFAR100.fine(n)),
  );
  assert.deepEqual(
    Array.from(coarse.labels),
    Array.from({ length: CIFAR100.train }, (_, n) => CIFAR100.coarse(n)),
  );
  assert.equal(fine.classes.length, 100);
  assert.equal(coarse.classes.length, 20);
  assert.deepEqual(fine.image(3), patternImage(3, 3, 32, 32));
  const testSet = loadCifar100({ root: c100(), split: 'test' });
  assert.deepEqual(Array.from(testSet.labels), [CIFAR100.fine(100), CIFAR100.fine(101)]);
  assert.deepEqual(testSet.image(1), patternImage(101, 3, 32, 32));
  // The extracted folder name under the root works too.
  const root = join(fixtures(), 'c100-root');
  cpSync(c100(), join(root, 'cifar-100-binary'), { recursive: true });
  assert.deepEqual(loadCifar100({ root }).labels, fine.labels);
});

test('corrupt CIFAR files: each error names the file and the problem', () => {
  const d10 = join(copyOf('cifar10'), 'cifar-10-batches-bin');
  appendFileSync(join(d10, 'data_batch_2.bin'), Buffer.from([1, 2, 3]));
  assert.throws(() => loadCifar10({ root: d10 }), {
    file: join(d10, 'data_batch_2.bin'),
    message: /6149 bytes is not a whole number of 3073-byte records/,
  });
  writeFileSync(join(d10, 'data_batch_2.bin'), new Uint8Array(0));
  assert.throws(() => loadCifar10({ root: d10 }), {
    file: join(d10, 'data_batch_2.bin'),
    message: /0 bytes is not a whole number/,
  });
  rmSync(join(d10, 'data_batch_2.bin'));
  assert.throws(() => loadCifar10({ root: d10 }), { file: join(d10, 'data_batch_2.bin'), message: /cannot read \(ENOENT/ });
  const test10 = join(d10, 'test_batch.bin');
  const bytes = readFileSync(test10);
  bytes[3073] = 10; // record 1's label
  writeFileSync(test10, bytes);
  assert.throws(() => loadCifar10({ root: d10, split: 'test' }), {
    file: test10,
    message: /record 1: class label 10 outside \[0, 10\)/,
  });

  const d100 = copyOf('cifar100');
  const train100 = join(d100, 'train.bin');
  const b100 = readFileSync(train100);
  b100[2 * 3074 + 1] = 150; // record 2's fine label
  writeFileSync(train100, b100);
  assert.throws(() => loadCifar100({ root: d100, coarse: true }), {
    file: train100,
    message: /record 2: fine label 150 outside \[0, 100\)/,
  });
  writeFileSync(train100, b100.subarray(0, 3073 * 2));
  assert.throws(() => loadCifar100({ root: d100 }), { file: train100, message: /not a whole number of 3074-byte records/ });
});

test('missing CIFAR folders: where we looked and how to get the data', () => {
  assert.throws(() => loadCifar10({ root: fixtures() }), {
    name: 'MissingDataError',
    message: /no data_batch_1.bin found \(looked in .*, .*cifar-10-batches-bin\).*CIFAR-10 binary version/,
  });
  assert.throws(
    () => loadCifar100({ root: '/nonexistent/cifar' }),
    /cifar100: directory \/nonexistent\/cifar does not exist.*cifar-100-binary.tar.gz/,
  );
});
