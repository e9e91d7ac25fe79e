// The CARSO authors' checkpoint layout (src/carso/authors.ts), both ways: their classifier and
// purifier files (key names and shapes as their code writes them, recorded by
// test/fixtures/carso/gen_authors.py from their modules) load into carso with no renaming, and
// carso writes them back identically; full size for CIFAR-10/100 and TinyImageNet, values on the
// fixture's narrow models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad, tidy, zeros } from '../../src/tensor/index.js';
import { readSafetensors } from '../../src/io/index.js';
import type { Module } from '../../src/nn/index.js';
import { createModel, WideResNet } from '../../src/models/index.js';
import {
  AUTHORS_PARTS,
  Carso,
  Decoder,
  DuplexLinearNeck,
  FlatCatCompressor,
  GEOMETRIES,
  TapCompressors,
  Taps,
  imageCodeSize,
  makeInputCompressor,
  saveAuthorsPurifier,
} from '../../src/carso/index.js';
import { FIXTURES } from '../fixtures.js';
import { authorsClassifier, readAuthorsFixture, writeAuthorsFiles } from './authors-fixture.js';

type Layout = [string, number[], string][];
const LAYOUT = JSON.parse(readFileSync(join(FIXTURES, 'carso', 'authors_layout.json'), 'utf8')) as {
  commits: Record<string, string>;
  full: Record<string, Record<string, Layout> & { encoder: Record<string, Layout> }>;
};

const layoutOf = (m: Module): Layout => [...m.stateDict()].map(([k, t]) => [k, [...t.shape], t.dtype]);

test("the layout fixture names the authors' commits", () => {
  assert.match(LAYOUT.commits['carso']!, /^[0-9a-f]{40}$/);
  assert.match(LAYOUT.commits['ebtorch']!, /^[0-9a-f]{40}$/);
});

for (const [dataset, g] of [
  ['cifar10', 'cifar10'],
  ['cifar100', 'cifar100'],
  ['tiny-imagenet', 'tiny'],
] as const) {
  test(`${dataset}, full size: the authors' classifier and purifier files have carso's keys, shapes and dtypes (mapping table)`, () => {
    const want = LAYOUT.full[g]!;
    const wrn = createModel('wrn-28-10', { dataset }) as WideResNet;
    assert.deepEqual(layoutOf(wrn), want['classifier'], 'classifier: ebtorch WideResNet names, loaded by loadModule as they are');
    const geometry = GEOMETRIES[dataset];
    const taps = new Taps(wrn, wrn.carsoTapNames());
    const shapes = noGrad(() =>
      tidy(() => taps.capture(zeros([1, 3, geometry.size, geometry.size])).taps.map((t) => t.shape.slice(1))),
    );
    taps.remove();
    wrn.dispose();
    const comp = new TapCompressors(shapes, geometry.compressorConvs);
    assert.deepEqual(layoutOf(comp), want['repr_compressors']);
    // NOTE: the condition FC (75M / 290M weights) is built 1 input wide: only its input size differs
    const fcn = new FlatCatCompressor(1, geometry.condDim);
    const fcnLayout = layoutOf(fcn).map(([k, s, d]): [string, number[], string] => [
      k,
      k === '1.0.weight' ? [s[0]!, comp.outFeatures] : s,
      d,
    ]);
    assert.deepEqual(fcnLayout, want['repr_fcn_compressor']);
    const decoder = new Decoder(geometry);
    assert.deepEqual(layoutOf(decoder), want['decoder']);
    // the encoder the authors train but do not save: same names (CARSOWrap's attributes)
    const enc = {
      input_compressor: makeInputCompressor(geometry.channels),
      joint_fcn_compressor: new FlatCatCompressor(imageCodeSize(geometry) + geometry.condDim, geometry.latentDim),
      neck: new DuplexLinearNeck(geometry.latentDim, geometry.latentDim),
    };
    for (const [k, m] of Object.entries(enc)) {
      assert.deepEqual(layoutOf(m), want.encoder[k], k);
      m.dispose();
    }
    for (const m of [comp, fcn, decoder]) m.dispose();
  });
}

test("the fixture's files, as the authors' scripts write them, load by file, by prefix or by folder, and carso writes them back the same", () => {
  const f = readAuthorsFixture('cifar10');
  const files = writeAuthorsFiles(f);
  const wrn = authorsClassifier(f, files.classifier); // loadModule, strict: the classifier file as it is
  const reference = new Map([...readSafetensors(`${files.base}_decoder.safetensors`).tensors]);
  for (const path of [files.base, `${files.base}_repr_fcn_compressor.safetensors`, files.dir]) {
    const carso = Carso.load(wrn, path);
    assert.equal(carso.geometry, GEOMETRIES.cifar10, 'geometry from the shapes and the classifier normalisation');
    assert.equal(carso.purifier.training, false);
    assert.equal(carso.purifier.hasEncoder, false);
    const w = carso.purifier.stateDict().get('decoder.5.weight')!;
    assert.deepEqual(w.toArray(), reference.get('5.weight')!.toArray(), path);
    carso.dispose();
  }
  // carso -> authors: the same files, key for key, byte for byte
  const carso = Carso.load(wrn, files.base);
  const back = saveAuthorsPurifier(join(files.dir, 'written_back'), carso.purifier);
  for (const part of AUTHORS_PARTS) {
    const a = readSafetensors(`${files.base}_${part}.safetensors`).tensors;
    const b = readSafetensors(back[part]).tensors;
    assert.deepEqual(
      [...b.keys()],
      f.files[part]!.map(([k]) => k),
      `${part}: the authors' keys, in their order`,
    );
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.toBytes(), t.toBytes(), `${part} ${k}`);
  }
  carso.dispose();
  // errors: a missing file, a classifier whose normalisation does not settle CIFAR-10 vs -100, wrong taps
  assert.throws(() => Carso.load(wrn, files.dir), /several authors' purifiers/);
  const generic = new WideResNet({ depth: 28, width: f.width, normalization: null });
  assert.throws(() => Carso.load(generic, files.base), /several CARSO geometries fit .*cifar10, cifar100.*pass the geometry/);
  Carso.load(generic, files.base, { geometry: GEOMETRIES.cifar100 }).dispose();
  const shallow = new WideResNet({ depth: 16, width: f.width });
  assert.throws(() => Carso.load(shallow, files.base), /26 tap compressors; the classifier's default taps are 14: pass the taps/);
  const wide = new WideResNet({ depth: 28, width: f.width + 1 });
  assert.throws(() => Carso.load(wide, files.base), /shape mismatch for repr_compressors\.0\.0\.0\.weight/);
  writeFileSync(`${files.base}_repr_fcn_compressor.safetensors`, 'not a safetensors file');
  assert.throws(() => Carso.load(wrn, files.base), /_repr_fcn_compressor\.safetensors/);
  unlinkSync(`${files.base}_decoder.safetensors`);
  assert.throws(() => Carso.load(wrn, files.base + '_repr_compressors.safetensors'), /lacks .*_decoder\.safetensors/);
  for (const m of [wrn, generic, shallow, wide]) m.dispose();
  rmSync(files.dir, { recursive: true, force: true });
});
