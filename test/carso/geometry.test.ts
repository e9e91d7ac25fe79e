// CARSO's shapes and sizes (carso.md 2.1-3.2): the 26 WRN-28-10 taps, the 147 040
// concatenated features, parameter counts worked out by hand, and the state-dict
// layout of a PyTorch build of the same modules (test/fixtures/carso/gen_carso.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import type { Module } from '../../src/nn/index.js';
import { FmnistCNN, WideResNet } from '../../src/models/index.js';
import {
  Carso,
  Decoder,
  GEOMETRIES,
  TapCompressors,
  Taps,
  decoderSizes,
  defaultTapNames,
  imageCodeSize,
  type Purifier,
} from '../../src/carso/index.js';
import { FIXTURES } from '../fixtures.js';

interface Layout {
  taps: number[][];
  concat: number;
  keys: [string, number[]][];
  params: Record<string, number>;
}
const LAYOUTS = JSON.parse(readFileSync(join(FIXTURES, 'carso', 'purifier_layouts.json'), 'utf8')) as Record<string, Layout>;

const count = (m: Module): number => m.parameters().reduce((a, p) => a + p.numel, 0);

/** carso.md 2.1, written out: conv_0, conv_1 of every block; the shortcut after conv_1 in groups 1 and 2. */
const SPEC_TAPS = [
  ...[0, 1, 2, 3].flatMap((b) => [`layer.0.block.${b}.conv_0`, `layer.0.block.${b}.conv_1`]),
  'layer.1.block.0.conv_0',
  'layer.1.block.0.conv_1',
  'layer.1.block.0.shortcut',
  ...[1, 2, 3].flatMap((b) => [`layer.1.block.${b}.conv_0`, `layer.1.block.${b}.conv_1`]),
  'layer.2.block.0.conv_0',
  'layer.2.block.0.conv_1',
  'layer.2.block.0.shortcut',
  ...[1, 2, 3].flatMap((b) => [`layer.2.block.${b}.conv_0`, `layer.2.block.${b}.conv_1`]),
];

/** The purifier's state dict equals the PyTorch one key for key, shape for shape, in order. */
function checkLayout(p: Module, layout: Layout, prefix = ''): void {
  const want = layout.keys.filter(([k]) => k.startsWith(prefix));
  const got = [...p.stateDict()].map(([k, t]): [string, number[]] => [prefix + k, [...t.shape]]);
  assert.deepEqual(got, want);
}

function checkParts(p: Purifier, layout: Layout): void {
  for (const part of ['input_compressor', 'repr_compressors', 'repr_fcn_compressor', 'joint_fcn_compressor', 'neck', 'decoder'])
    assert.equal(count(p.namedChildren().find(([n]) => n === part)![1]), layout.params[part], part);
}

test('CIFAR-10 on WRN-28-10: the 26 taps of 2.1, 147 040 features, parameter counts by hand and = PyTorch', () => {
  const wrn = new WideResNet({ depth: 28, width: 10, classes: 10 });
  assert.deepEqual(defaultTapNames(wrn), SPEC_TAPS);
  const carso = new Carso(wrn, { geometry: GEOMETRIES.cifar10, taps: SPEC_TAPS });
  // Execution order is the hooks' firing order (a fresh recorder, same modules).
  const taps = new Taps(wrn, [...SPEC_TAPS].reverse());
  const cap = noGrad(() =>
    tidy(() => {
      const c = taps.capture(zeros([1, 3, 32, 32]));
      return { order: c.order, shapes: c.taps.map((t: Tensor) => t.shape.slice(1)) };
    }),
  );
  taps.remove();
  assert.deepEqual(cap.order, SPEC_TAPS);
  const groups = [
    [160, 32, 32, 8],
    [320, 16, 16, 9],
    [640, 8, 8, 9],
  ].flatMap(([c, h, w, n]) => Array<number[]>(n!).fill([c!, h!, w!]));
  assert.deepEqual(cap.shapes, groups);
  const p = carso.purifier;
  assert.deepEqual(p.tapShapes, groups);
  // 8 x 20x26x26 + 9 x 40x10x10 + 9 x 80x2x2
  assert.equal(p.repr_compressors.outFeatures, 8 * 13_520 + 9 * 4_000 + 9 * 320);
  assert.equal(p.repr_compressors.outFeatures, 147_040);
  // One compressor, 3 convs c -> c/2 -> c/4 -> c/8 (9 weights per pair) + BN weight and bias:
  //   160: 9 (160*80 + 80*40 + 40*20) + 2 (80 + 40 + 20) = 151 200 + 280 = 151 480
  //   320: 9 (320*160 + 160*80 + 80*40) + 2 (160 + 80 + 40) = 604 800 + 560 = 605 360
  //   640: 9 (640*320 + 320*160 + 160*80) + 2 (320 + 160 + 80) = 2 419 200 + 1 120 = 2 420 320
  assert.equal(count(p.repr_compressors), 8 * 151_480 + 9 * 605_360 + 9 * 2_420_320);
  assert.equal(count(p.repr_compressors), 28_442_960);
  // Linear 147 040 -> 512 (no bias) + BatchNorm1d(512)
  assert.equal(count(p.repr_fcn_compressor), 147_040 * 512 + 2 * 512);
  // Linear 640 -> 2304 (bias); ConvT 256-256-128-64-32 (k3, no bias) + BN; ConvT 32 -> 3 (k2, bias)
  const decoder =
    640 * 2304 + 2304 + 9 * (256 * 256 + 256 * 128 + 128 * 64 + 64 * 32) + 2 * (256 + 128 + 64 + 32) + (32 * 3 * 4 + 3);
  assert.equal(count(p.decoder), decoder);
  assert.equal(decoder, 2_455_107);
  // The training-only encoder: 3 -> 6 -> 12 convs + BN; Linear 768 + 512 -> 128 + BN; two Linear 128 -> 128.
  assert.equal(imageCodeSize(GEOMETRIES.cifar10), 768);
  assert.equal(
    count(p) - count(p.repr_compressors) - count(p.repr_fcn_compressor) - count(p.decoder),
    9 * (3 * 6 + 6 * 12) + 2 * 18 + 1280 * 128 + 256 + 2 * (128 * 128 + 128),
  );
  const layout = LAYOUTS['cifar10']!;
  assert.equal(layout.concat, 147_040);
  checkLayout(p, layout);
  checkParts(p, layout);
  carso.dispose();
  wrn.dispose();
});

test('TinyImageNet: 4-conv compressors give 377 600 features; compressors and decoder = PyTorch (the 290M-weight FC is not built)', () => {
  const layout = LAYOUTS['tiny-imagenet']!;
  const comp = new TapCompressors(layout.taps, GEOMETRIES['tiny-imagenet'].compressorConvs);
  assert.equal(comp.outFeatures, 8 * 10 * 56 * 56 + 9 * 20 * 24 * 24 + 9 * 40 * 8 * 8);
  assert.equal(comp.outFeatures, 377_600);
  checkLayout(comp, layout, 'repr_compressors.');
  assert.deepEqual(layout.keys.find(([k]) => k === 'repr_fcn_compressor.1.0.weight')![1], [768, comp.outFeatures]);
  const decoder = new Decoder(GEOMETRIES['tiny-imagenet']);
  checkLayout(decoder, layout, 'decoder.');
  assert.equal(count(decoder), layout.params['decoder']);
  comp.dispose();
  decoder.dispose();
});

test('Fashion-MNIST: the FmnistCNN taps, 4 160 features, layout = PyTorch', () => {
  const cnn = new FmnistCNN();
  const carso = new Carso(cnn, { geometry: GEOMETRIES['fashion-mnist'], taps: defaultTapNames(cnn)! });
  const layout = LAYOUTS['fashion-mnist']!;
  assert.deepEqual(carso.purifier.tapShapes, layout.taps);
  // 16x12x12 + 2 x 32x5x5 + 64x2x2
  assert.equal(carso.purifier.repr_compressors.outFeatures, 2304 + 2 * 800 + 256);
  assert.equal(layout.concat, 4160);
  checkLayout(carso.purifier, layout);
  checkParts(carso.purifier, layout);
  carso.dispose();
});

test('decoders land exactly on the image: CIFAR 3-5-9-17-33-32, Tiny 4-8-16-32-64-64, 28x28 2-4-7-14-28-28', () => {
  assert.deepEqual(decoderSizes(GEOMETRIES.cifar10), [3, 5, 9, 17, 33, 32]);
  assert.deepEqual(decoderSizes(GEOMETRIES['tiny-imagenet']), [4, 8, 16, 32, 64, 64]);
  assert.deepEqual(decoderSizes(GEOMETRIES['fashion-mnist']), [2, 4, 7, 14, 28, 28]);
  for (const name of ['cifar100', 'tiny-imagenet', 'mnist'] as const) {
    const g = GEOMETRIES[name];
    const d = new Decoder(g).eval();
    const out = noGrad(() => d.call(zeros([2, g.latentDim + g.condDim])));
    assert.deepEqual(out.shape, [2, g.channels, g.size, g.size], name);
    out.dispose();
    d.dispose();
  }
  assert.deepEqual([imageCodeSize(GEOMETRIES['tiny-imagenet']), imageCodeSize(GEOMETRIES.mnist)], [3072, 196]);
});
