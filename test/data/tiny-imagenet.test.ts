// TinyImageNet-200 folder loading on generated fixtures: class order from
// wnids.txt, numeric file order, JPEG decoding (against jpeg-js itself and
// within JPEG error for flat colours), grayscale to 3 channels, errors.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import jpeg from 'jpeg-js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { loadTinyImageNet } from '../../src/data/tiny-imagenet.js';
import { TINY } from '../fixtures/data/generate.js';
import { encodeFlatGrayJpeg } from '../fixtures/data/gray-jpeg.js';
import { copyOf, fixtures } from './fixtures.js';

const tiny = (): string => join(fixtures(), 'tiny', 'tiny-imagenet-200');
const PLANE = 64 * 64;

/** Every pixel of image i within `tol` of the flat colour rgb. */
function assertFlat(ds: ImageDataset, i: number, rgb: readonly number[], tol: number): void {
  const img = ds.image(i);
  rgb.forEach((v, c) => {
    for (let p = 0; p < PLANE; p++) {
      const got = img[c * PLANE + p] as number;
      assert.ok(Math.abs(got - v) <= tol, `image ${i} channel ${c} pixel ${p}: ${got}, expected ${v} +- ${tol}`);
    }
  });
}

function checkItems(ds: ImageDataset, items: (typeof TINY.train)[number][] | (typeof TINY.val)[number][]): void {
  assert.equal(ds.length, items.length);
  assert.deepEqual(ds.imageShape, [3, 64, 64]);
  assert.deepEqual(
    Array.from(ds.labels),
    items.map((it) => it.label),
  );
  items.forEach((it, i) => {
    // Against jpeg-js decoding the same file, HWC -> CHW.
    const ref = jpeg.decode(readFileSync(join(tiny(), it.file)), { useTArray: true, formatAsRGBA: false }).data;
    const img = ds.image(i);
    for (let p = 0; p < PLANE; p++)
      for (let c = 0; c < 3; c++) assert.equal(img[c * PLANE + p], ref[3 * p + c], `${it.file} c${c} p${p}`);
    // NOTE: quality-100 JPEG of a flat colour is off by the YCbCr round trip only (a few levels); a gray DC-only block is exact.
    if (it.kind === 'flat') assertFlat(ds, i, it.rgb, 3);
    if (it.kind === 'gray') assertFlat(ds, i, it.rgb, 0);
  });
}

test('train split: wnids order, numeric file order, exact decode, grayscale as 3 channels', () => {
  const ds = loadTinyImageNet({ root: join(fixtures(), 'tiny') }); // root holds tiny-imagenet-200
  assert.deepEqual(ds.classes, TINY.wnids);
  checkItems(ds, [...TINY.train]);
  assert.equal(loadTinyImageNet({ root: tiny(), limit: 3 }).length, 3);
});

test('test split serves val with labels from val_annotations.txt', () => {
  checkItems(loadTinyImageNet({ root: tiny(), split: 'test' }), [...TINY.val]);
});

test('the grayscale fixture really is a 1-component JPEG', () => {
  const bytes = encodeFlatGrayJpeg(64, 64, 77);
  const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xc0);
  assert.equal(bytes[sof + 9], 1, 'SOF0 component count');
});

test('corrupt TinyImageNet folders: each error names the file and the problem', () => {
  const dir = join(copyOf('tiny'), 'tiny-imagenet-200');
  const bad = join(dir, TINY.val[1].file);
  writeFileSync(bad, Buffer.from('not a jpeg at all'));
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), {
    file: bad,
    message: /cannot decode JPEG \(SOI not found\)/,
  });
  writeFileSync(bad, readFileSync(join(tiny(), TINY.val[1].file)).subarray(0, 200));
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), { file: bad, message: /cannot decode JPEG/ });
  writeFileSync(bad, encodeFlatGrayJpeg(32, 64, 5));
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), { file: bad, message: /image is 64x32, expected 64x64/ });
  // fuzz regression: a frame header claiming 65535x65535 pixels is refused before decoding (it cost 116 MB)
  const huge = encodeFlatGrayJpeg(64, 64, 5);
  const sof = huge.findIndex((b, i) => b === 0xff && huge[i + 1] === 0xc0);
  huge.set([0xff, 0xff, 0xff, 0xff], sof + 5);
  writeFileSync(bad, huge);
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), { file: bad, message: /maxResolutionInMP limit exceeded/ });
  // fuzz regression: a link to a device is refused without reading it
  rmSync(bad);
  symlinkSync('/dev/urandom', bad);
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), { file: bad, message: /not a regular file/ });

  const ann = join(dir, 'val', 'val_annotations.txt');
  writeFileSync(ann, 'val_0.JPEG\tn01641577\t0\t0\t1\t1\nval_1.JPEG\tn99999999\t0\t0\t1\t1\n');
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), { file: ann, message: /line 2: unknown wnid n99999999/ });
  // fuzz regression: an annotation naming a path out of val/images (it read /dev/zero, and the error named only that)
  writeFileSync(ann, 'val_0.JPEG\tn01641577\n../../../../../../../../dev/zero\tn01641577\n');
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), {
    file: ann,
    message: /line 2: "\.\.\/\.\.\/.*dev\/zero" is not a file name in val\/images/,
  });
  writeFileSync(ann, 'val_0.JPEG n01641577\n');
  assert.throws(() => loadTinyImageNet({ root: dir, split: 'test' }), {
    file: ann,
    message: /line 1: expected tab-separated file and wnid/,
  });

  rmSync(join(dir, 'train', TINY.wnids[1]), { recursive: true });
  assert.throws(() => loadTinyImageNet({ root: dir }), {
    file: join(dir, 'train', TINY.wnids[1], 'images'),
    message: /missing folder of class 1 \(n01629819 in wnids.txt\)/,
  });
  const wnids = join(dir, 'wnids.txt');
  writeFileSync(wnids, 'n01443537\nn01443537\n');
  assert.throws(() => loadTinyImageNet({ root: dir }), { file: wnids, message: /class id n01443537 listed twice/ });
  rmSync(wnids);
  assert.throws(() => loadTinyImageNet({ root: dir }), { file: wnids, message: /cannot read \(ENOENT/ });
  assert.throws(() => loadTinyImageNet({ root: join(dir, 'val', 'images') }), {
    name: 'MissingDataError',
    message: /no wnids.txt or train or val found.*tiny-imagenet-200.zip/,
  });
});
