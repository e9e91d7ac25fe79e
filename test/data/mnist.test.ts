// IDX loading (MNIST / Fashion-MNIST) on generated fixtures: exact bytes,
// gzip = raw, limit, and one error per kind of corruption.
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadFashionMnist, loadMnist } from '../../src/data/mnist.js';
import { IDX, idxBytes, patternImage } from '../fixtures/data/generate.js';
import { copyOf, fixtures } from './fixtures.js';

const raw = (): string => join(fixtures(), 'idx', 'raw');
const gz = (): string => join(fixtures(), 'idx', 'gz');

test('raw IDX: exact pixels, labels and shape, both splits', () => {
  const train = loadMnist({ root: raw() });
  assert.deepEqual(train.imageShape, [1, IDX.h, IDX.w]);
  assert.deepEqual(Array.from(train.labels), IDX.train);
  IDX.train.forEach((_, n) => assert.deepEqual(train.image(n), patternImage(n, 1, IDX.h, IDX.w), `image ${n}`));
  const testSet = loadMnist({ root: raw(), split: 'test' });
  assert.deepEqual(Array.from(testSet.labels), IDX.test);
  assert.deepEqual(testSet.image(2), patternImage(102, 1, IDX.h, IDX.w));
});

test('gzipped IDX loads identically to raw (fashion-mnist loader too)', () => {
  for (const split of ['train', 'test'] as const) {
    const a = loadMnist({ root: raw(), split });
    const b = loadFashionMnist({ root: gz(), split });
    assert.deepEqual(b.images, a.images);
    assert.deepEqual(b.labels, a.labels);
    assert.equal(b.classes[9], 'Ankle boot');
  }
});

test('limit keeps the first N points', () => {
  const ds = loadMnist({ root: gz(), limit: 2 });
  assert.equal(ds.length, 2);
  assert.deepEqual(Array.from(ds.labels), IDX.train.slice(0, 2));
  assert.deepEqual(ds.image(1), patternImage(1, 1, IDX.h, IDX.w));
  assert.throws(() => loadMnist({ root: gz(), limit: -1 }), /limit must be a non-negative integer/);
  assert.throws(() => loadMnist({ root: gz(), split: 'val' as 'test' }), /split must be 'train' or 'test'/);
});

/** Overwrites `name` in a fresh copy of the raw IDX fixtures, returns the folder. */
function corrupt(name: string, edit: (bytes: Buffer) => Uint8Array): string {
  const dir = copyOf('idx/raw');
  writeFileSync(join(dir, name), edit(readFileSync(join(dir, name))));
  return dir;
}

const IMAGES = 'train-images-idx3-ubyte';
const LABELS = 'train-labels-idx1-ubyte';

test('corrupt IDX files: each error names the file and the problem', () => {
  const cases: [string, (b: Buffer) => Uint8Array, RegExp][] = [
    [IMAGES, (b) => Buffer.concat([Buffer.from([0x12, 0x34]), b.subarray(2)]), /bad IDX magic number 12 34 08 03/],
    [IMAGES, (b) => Buffer.concat([Buffer.from([0, 0, 0x0d]), b.subarray(3)]), /type code 0x0d/],
    [IMAGES, (b) => Buffer.concat([Buffer.from([0, 0, 8, 1]), b.subarray(4)]), /1 dims, expected 3/],
    [
      IMAGES,
      (b) => b.subarray(0, b.length - 10),
      /header says dims \[5, 6, 7\] = 210 data bytes, but the file has 200 \(truncated\)/,
    ],
    [IMAGES, (b) => Buffer.concat([b, Buffer.from([1, 2])]), /has 212 \(trailing bytes\)/],
    [IMAGES, (b) => b.subarray(0, 10), /truncated IDX header/],
    [IMAGES, (b) => gzipSync(b).subarray(0, 40), /corrupt or truncated gzip data/],
    [LABELS, () => idxBytes([4], Uint8Array.from([1, 2, 3, 4])), /4 labels, but .*train-images-idx3-ubyte has 5 images/],
    [LABELS, () => idxBytes([5], Uint8Array.from([1, 2, 10, 4, 5])), /label 2 is 10, outside \[0, 10\)/],
  ];
  for (const [name, edit, message] of cases) {
    const dir = corrupt(name, edit);
    assert.throws(() => loadMnist({ root: dir }), { name: 'DataFileError', file: join(dir, name), message }, String(message));
  }
});

test('hostile IDX files are refused before they cost memory (fuzz regressions)', () => {
  // a gzip stream inflating far past what its header declares (a bomb: 64 MB of zeros in 64 kB)
  const header = idxBytes([5, 6, 7], new Uint8Array(0));
  const bomb = copyOf('idx/raw');
  rmSync(join(bomb, IMAGES));
  writeFileSync(join(bomb, `${IMAGES}.gz`), gzipSync(Buffer.concat([header, Buffer.alloc(64 * 2 ** 20)])));
  assert.throws(() => loadMnist({ root: bomb }), {
    name: 'DataFileError',
    message: /gzip data inflates to more than the 226 bytes its header declares/,
  });
  // 0x0-pixel images: consistent sizes, but no image
  const empty = corrupt(IMAGES, () => idxBytes([5, 0, 7], new Uint8Array(0)));
  assert.throws(() => loadMnist({ root: empty }), { file: join(empty, IMAGES), message: /images of 0x7 pixels/ });
  // a link to a device where a file should be: refused without reading (a read of /dev/zero never ends)
  const dev = copyOf('idx/raw');
  rmSync(join(dev, LABELS));
  symlinkSync('/dev/zero', join(dev, LABELS));
  assert.throws(() => loadMnist({ root: dev }), { file: join(dev, LABELS), message: /not a regular file/ });
});

test('missing files: where we looked and how to get the data', () => {
  const dir = copyOf('idx/raw');
  rmSync(join(dir, LABELS));
  assert.throws(() => loadMnist({ root: dir }), /has images but no train-labels-idx1-ubyte/);
  renameSync(join(dir, IMAGES), join(dir, 'other'));
  assert.throws(() => loadFashionMnist({ root: dir }), {
    name: 'MissingDataError',
    message:
      /no train-images-idx3-ubyte or .* found \(looked in .*, .*\/raw, .*\/FashionMNIST\/raw\).*apt-get install dataset-fashion-mnist/,
  });
  assert.throws(
    () => loadFashionMnist({ root: join(dir, 'nope') }),
    /directory .*nope does not exist.*apt-get install dataset-fashion-mnist/,
  );
});
