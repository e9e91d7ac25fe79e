// The purifier against a PyTorch build of the same modules (gen_carso.py,
// purifier_small.safetensors): seeded initialisation draws the same numbers
// (same construction order), a train-mode forward (condition, encoder, neck,
// reparameterisation, decoder) and the BatchNorm statistics it updates, then an
// eval-mode decode. And the safetensors round trip with readable keys.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispose, manualSeed, noGrad, tidy, type Tensor } from '../../src/tensor/index.js';
import { readSafetensors, writeSafetensors } from '../../src/io/index.js';
import { Conv2d, Sequential, Tanh } from '../../src/nn/index.js';
import {
  Carso,
  GEOMETRIES,
  Purifier,
  loadPurifier,
  readPurifierInfo,
  reparameterize,
  savePurifier,
  type CarsoGeometry,
} from '../../src/carso/index.js';
import { checkDraws, checkTensor, ulpOne } from '../helpers.js';
import { FIXTURES } from '../fixtures.js';
import { TINY_GEOMETRY, TINY_TAPS, tinyCarso } from './tiny.js';

const fx = readSafetensors(join(FIXTURES, 'carso', 'purifier_small.safetensors'));
const get = (k: string): Tensor => {
  const t = fx.tensors.get(k);
  assert.ok(t !== undefined, `fixture has no ${k}`);
  return t;
};
const TAPS = JSON.parse(fx.metadata['taps']!) as number[][];
const small = (g: CarsoGeometry): CarsoGeometry => ({ ...g, condDim: 16, latentDim: 8 });
const CASES: [string, CarsoGeometry][] = [
  ['cifar', small(GEOMETRIES.cifar10)],
  ['tiny', small(GEOMETRIES['tiny-imagenet'])],
  ['grey', small(GEOMETRIES['fashion-mnist'])],
];
const dir = mkdtempSync(join(tmpdir(), 'carso-purifier-'));
after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, g] of CASES)
  test(`${name} purifier = PyTorch: seeded init, train forward, BatchNorm statistics, eval decode`, () => {
    manualSeed(Number(fx.metadata[`${name}.seed`]));
    const p = new Purifier({ geometry: g, tapShapes: TAPS });
    for (const [k, t] of p.stateDict()) {
      checkDraws(t.flatten(0).narrow(0, 0, Math.min(16, t.numel)), get(`${name}.init.${k}`), `init ${k}`);
      // NOTE: n draws, each within ulp(1) (checkDraws), summed in float64.
      checkTensor(
        [t.to('float64').sum().item()],
        get(`${name}.initsum.${k}`),
        `init sum ${k}`,
        1e-12 + t.numel * ulpOne(t.dtype),
        0,
      );
    }
    const taps = TAPS.map((_, i) => get(`${name}.in.tap${i}`));
    tidy(() => {
      p.train();
      const c = p.condition(taps);
      const { mu, logvar } = p.encode(get(`${name}.in.x`), c);
      const xrec = p.decode(reparameterize(mu, logvar, get(`${name}.in.eps`)), c);
      const out: Record<string, Tensor> = { c, mu, logvar, xrec };
      for (const [k, t] of Object.entries(out)) checkTensor(t, get(`${name}.train.${k}`), `train ${k}`, 1e-5, 1e-4);
    });
    for (const [k, t] of p.namedBuffers()) checkTensor(t, get(`${name}.final.${k}`), `buffer ${k}`, 1e-5, 1e-4);
    tidy(() => {
      p.eval();
      const c = noGrad(() => p.condition(taps));
      checkTensor(c, get(`${name}.eval.c`), 'eval c', 1e-5, 1e-4);
      checkTensor(
        noGrad(() => p.decode(get(`${name}.in.z`), c)),
        get(`${name}.eval.xrec`),
        'eval xrec',
        1e-5,
        1e-4,
      );
    });
    p.dispose();
  });

test('save without the encoder (reference keys), load into a fresh purifier: same outputs; metadata round trips', () => {
  const a = tinyCarso(1);
  manualSeed(2); // another purifier init on the same classifier
  const b = new Carso(a.classifier, { geometry: TINY_GEOMETRY, taps: TINY_TAPS });
  const path = join(dir, 'p.safetensors');
  savePurifier(path, a.purifier, { taps: a.tapNames, metadata: { note: 'x' } });
  const file = readSafetensors(path);
  const keys = [...file.tensors.keys()];
  file.tensors.forEach((t) => t.dispose());
  assert.ok(
    keys.includes('repr_compressors.0.0.0.weight') &&
      keys.includes('repr_fcn_compressor.1.0.weight') &&
      keys.includes('decoder.5.bias'),
  );
  assert.ok(!keys.some((k) => /^(input_compressor|joint_fcn_compressor|neck)\./.test(k)), 'encoder left out');
  assert.equal(file.metadata['note'], 'x');
  const info = readPurifierInfo(path);
  assert.deepEqual(info.taps, TINY_TAPS);
  assert.deepEqual(info.geometry, TINY_GEOMETRY);
  assert.deepEqual(info.tapShapes, [
    [4, 12, 12],
    [6, 6, 6],
  ]);
  assert.equal(info.encoder, false);
  loadPurifier(path, b.purifier);
  const c = Carso.load(a.classifier, path, { samples: 3 });
  assert.deepEqual([c.tapNames, c.samples, c.purifier.hasEncoder], [TINY_TAPS, 3, false]);
  tidy(() => {
    const x = get('grey.in.x').narrow(2, 0, 12).narrow(3, 0, 12).sigmoid();
    const z = get('grey.in.z').narrow(1, 0, 3).unsqueeze(0);
    const [ya, yb, yc] = noGrad(() => [a, b, c].map((m) => m.eval().forwardWithLatents(x, z)));
    checkTensor(yb!, ya!, 'loadPurifier', 0, 0);
    checkTensor(yc!, ya!, 'Carso.load', 0, 0);
  });
  c.dispose();
  // A purifier file for another geometry is refused with the offending keys.
  const other = new Purifier({
    geometry: { ...TINY_GEOMETRY, condDim: 7 },
    tapShapes: [
      [4, 12, 12],
      [6, 6, 6],
    ],
  });
  assert.throws(() => loadPurifier(path, other), /loadPurifier: .*shape mismatch for repr_fcn_compressor\.1\.0\.weight/s);
  [a, b].forEach((c) => c.dispose());
  a.classifier.dispose();
  other.dispose();
});

test('hostile purifier files: refused before anything is built, naming the file (fuzz regressions)', () => {
  const a = tinyCarso(1);
  const path = join(dir, 'hostile-base.safetensors');
  savePurifier(path, a.purifier, { taps: a.tapNames });
  /** The file with its purifier description changed by `edit`. */
  const withInfo = (name: string, edit: (info: Record<string, unknown>) => unknown): string => {
    const { tensors, metadata } = readSafetensors(path);
    const out = join(dir, name);
    writeSafetensors(out, tensors, { ...metadata, purifier: JSON.stringify(edit(JSON.parse(metadata['purifier']!))) });
    dispose([...tensors.values()]);
    return out;
  };
  const geometry = (patch: object) => (i: Record<string, unknown>) => ({
    ...i,
    geometry: { ...(i['geometry'] as object), ...patch },
  });
  const cases: [string, (i: Record<string, unknown>) => unknown, RegExp][] = [
    // a latent of 1e9 would have built a 1e9 x 1e9 neck and a 1e9-wide decoder input
    ['latent.safetensors', geometry({ latentDim: 1e9 }), /the geometry needs decoder\.0\.1\.weight of \[256, 1000000006\]/],
    // a 65536-pixel image would have been run through the classifier to find the taps
    ['size.safetensors', geometry({ size: 65536 }), /decoder sides .* do not end at the image size 65536/],
    [
      'seed.safetensors',
      geometry({ decoder: { seed: 4096, outputPadding: [1, 0, 1, 1], finalKernel: 3, finalPadding: 1 } }),
      /decoder sides/,
    ],
    [
      'padding.safetensors',
      geometry({ decoder: { seed: 1, outputPadding: [9, 0, 1, 1], finalKernel: 3, finalPadding: 1 } }),
      /outputPadding must be four 0\/1 values/,
    ],
    ['no-geometry.safetensors', (i) => ({ ...i, geometry: undefined }), /geometry is not an object/],
    ['channels.safetensors', geometry({ decoderChannels: [4, 4, 4] }), /decoderChannels is not 5 positive integers/],
    ['shapes.safetensors', (i) => ({ ...i, tapShapes: 'x' }), /tapShapes is not a list/],
    ['taps.safetensors', (i) => ({ ...i, taps: [1, 2] }), /taps is not a list of module names/],
    ['not-json.safetensors', () => undefined, /purifier metadata/],
  ];
  const named = (bad: string, pattern: RegExp) => (e: Error) => e.message.includes(bad) && pattern.test(e.message);
  // recorded tap shapes another classifier does not give: refused before the purifier is built
  const wider = new Sequential(new Conv2d(1, 5, 3, { padding: 1 }), new Tanh(), new Conv2d(5, 6, 3, { stride: 2, padding: 1 }));
  assert.throws(
    () => Carso.load(wider, path),
    named(path, /taps of \[4,12,12\], \[6,6,6\] expected, this classifier gives \[5,12,12\]/),
  );
  for (const [name, edit, pattern] of cases) {
    const bad = withInfo(name, edit);
    assert.throws(() => Carso.load(a.classifier, bad), named(bad, pattern), name);
    // the description alone (readPurifierInfo) is refused too, except for sizes only the tensors contradict
    if (name !== 'latent.safetensors') assert.throws(() => readPurifierInfo(bad), named(bad, pattern), name);
  }
  a.dispose();
  a.classifier.dispose();
});
