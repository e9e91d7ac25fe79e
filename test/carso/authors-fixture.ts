// The authors'-code fixtures (test/fixtures/carso/gen_authors.py): their recorded tensors, and
// the weights they were recorded with, rebuilt here from the generator's fill rule (the files
// would be ~80 MB and ~120 MB) and written as the four files the authors' scripts load, so every
// parity test goes through Carso.load's authors' layout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, tensor, tidy, type DType, type Tensor } from '../../src/tensor/index.js';
import { readSafetensors, writeSafetensors, loadModule } from '../../src/io/index.js';
import { DATASETS, WideResNet } from '../../src/models/index.js';
import { AUTHORS_PARTS, Carso, type Aggregation } from '../../src/carso/index.js';
import { FIXTURES } from '../fixtures.js';

/** [key, shape, dtype, seed, scale, offset]: tensor `key` is fill(seed, numel) * scale + offset. */
export type FillSpec = [string, number[], string, number, number, number];
type FileLayout = Record<string, [string, number[], string][]>;

export const AUTHORS_GEOMETRIES = { cifar10: 'cifar10', tiny: 'tiny-imagenet' } as const;
export type AuthorsGeometry = keyof typeof AUTHORS_GEOMETRIES;

/**
 * The generator's fill rule, exactly (integer hashing in 32 bits, then float64 arithmetic):
 * x = (j + s 0x9E3779B9) mod 2^32, twice x = ((x >> 16) ^ x) 0x45d9f3b mod 2^32, x ^= x >> 16,
 * value = ((x / 2^32) 2 - 1) scale + offset.
 */
export function fillValues(seed: number, n: number, scale: number, offset: number): Float64Array {
  const out = new Float64Array(n);
  const s = (seed * 0x9e3779b9) % 2 ** 32; // exact: seed * 0x9E3779B9 < 2^53
  for (let j = 0; j < n; j++) {
    let x = (j + s) >>> 0;
    x = Math.imul((x >>> 16) ^ x, 0x45d9f3b) >>> 0;
    x = Math.imul((x >>> 16) ^ x, 0x45d9f3b) >>> 0;
    x = ((x >>> 16) ^ x) >>> 0;
    out[j] = ((x / 2 ** 32) * 2 - 1) * scale + offset;
  }
  return out;
}

export function fillTensor([, shape, dtype, seed, scale, offset]: FillSpec): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'int64') return tensor(new Array<number>(n).fill(offset), shape, 'int64');
  // NOTE: float64 values rounded once to float32 (Float32Array.from), as the generator's .to(float32)
  return tensor(Float32Array.from(fillValues(seed, n, scale, offset)), shape, dtype as DType);
}

export interface AuthorsFixture {
  name: AuthorsGeometry;
  get(key: string): Tensor;
  has(key: string): boolean;
  /** Tensors named `prefix.<key>`, keyed by <key>. */
  group(prefix: string): Map<string, Tensor>;
  meta: Record<string, string>;
  specs: FillSpec[];
  files: FileLayout;
  width: number;
}

export function readAuthorsFixture(name: AuthorsGeometry | 'lexsemble'): AuthorsFixture {
  const { tensors, metadata } = readSafetensors(join(FIXTURES, 'carso', `authors_${name}.safetensors`));
  return {
    name: name as AuthorsGeometry,
    get(key) {
      const t = tensors.get(key);
      if (t === undefined) throw new Error(`authors_${name}: no tensor '${key}'`);
      return t;
    },
    has: (key) => tensors.has(key),
    group: (prefix) =>
      new Map([...tensors].filter(([k]) => k.startsWith(`${prefix}.`)).map(([k, t]) => [k.slice(prefix.length + 1), t])),
    meta: metadata,
    specs: JSON.parse(metadata['fills'] ?? '[]') as FillSpec[],
    files: JSON.parse(metadata['files'] ?? '{}') as FileLayout,
    width: Number(metadata['width']),
  };
}

/** The fill specs of the classifier's logits layer scaled as the generator's `hot` / `hotter` models. */
export function hotSpecs(f: AuthorsFixture, tag: 'hot' | 'hotter'): FillSpec[] {
  return JSON.parse(f.meta[`fills_${tag}`]!) as FillSpec[];
}

/** Tensors of the specs under `prefix`, keyed without it. */
export function filled(specs: readonly FillSpec[], prefix: string): Map<string, Tensor> {
  return new Map(specs.filter(([k]) => k.startsWith(prefix)).map((s) => [s[0].slice(prefix.length), fillTensor(s)]));
}

/**
 * Writes the authors' four files for the fixture's weights into a fresh folder: the classifier
 * (ebtorch WideResNet keys) and <base>_{repr_compressors, repr_fcn_compressor, decoder} with the
 * keys the authors' save_model writes (the generator's `files` layout).
 */
export function writeAuthorsFiles(f: AuthorsFixture): { dir: string; classifier: string; base: string } {
  const dir = mkdtempSync(join(tmpdir(), 'carso-authors-'));
  const classifier = join(dir, `classifier_${f.name}.safetensors`);
  const base = join(dir, `wrn_28_${f.width}_${f.name}_fixture`);
  const write = (path: string, layout: [string, number[], string][], prefix: string): void => {
    const specs = new Map(f.specs.map((s) => [s[0], s]));
    const tensors = new Map(
      layout.map(([k, shape]) => {
        const s = specs.get(prefix + k);
        if (s === undefined || s[1].join() !== shape.join())
          throw new Error(`fixture: no fill for ${prefix}${k} [${shape.join(', ')}]`);
        return [k, fillTensor(s)] as const;
      }),
    );
    writeSafetensors(path, tensors);
    for (const t of tensors.values()) t.dispose();
  };
  write(classifier, f.files['classifier']!, 'classifier.');
  for (const part of AUTHORS_PARTS) write(`${base}_${part}.safetensors`, f.files[part]!, `${part}.`);
  return { dir, classifier, base };
}

/** The fixture's ebtorch WideResNet (depth 28, the fixture's width) as carso's, weights from the authors' file. */
export function authorsClassifier(f: AuthorsFixture, path: string): WideResNet {
  const d = DATASETS[AUTHORS_GEOMETRIES[f.name]];
  const wrn = new WideResNet({
    depth: 28,
    width: f.width,
    classes: d.classes,
    normalization: d.normalization,
    autopool: d.size !== 32,
  });
  loadModule(path, wrn);
  return wrn;
}

/**
 * carso's CARSO on the fixture's weights, loaded from the authors' files (Carso.load detects
 * their layout), with N = 8 and the given aggregation; the encoder (which the authors do not
 * save) from the fill specs when asked. `dispose` also removes the files.
 */
export function authorsCarso(
  f: AuthorsFixture,
  o: { aggregation?: Aggregation; encoder?: boolean } = {},
): { carso: Carso; dispose: () => void } {
  const files = writeAuthorsFiles(f);
  const wrn = authorsClassifier(f, files.classifier);
  const carso = Carso.load(wrn, files.base, { samples: 8, aggregation: o.aggregation ?? 'peel-reference', encoder: o.encoder });
  if (o.encoder) {
    const enc = new Map(
      ['input_compressor.', 'joint_fcn_compressor.', 'neck.'].flatMap((p) =>
        [...filled(f.specs, p)].map(([k, t]) => [p + k, t] as const),
      ),
    );
    carso.purifier.loadStateDict(enc, { strict: false });
    for (const t of enc.values()) t.dispose();
  }
  rmSync(files.dir, { recursive: true, force: true });
  return {
    carso,
    dispose: () => {
      carso.dispose();
      wrn.dispose();
    },
  };
}

/** Loads `specs` (classifier keys, 'classifier.' prefixed) into the classifier, e.g. the hot logits layer. */
export function setClassifier(carso: Carso, specs: readonly FillSpec[]): void {
  const t = filled(specs, 'classifier.');
  const dtype = carso.classifier.parameters()[0]!.dtype;
  noGrad(() =>
    tidy(() => void carso.classifier.loadStateDict(new Map([...t].map(([k, v]) => [k, v.to(dtype)])), { strict: false })),
  );
  for (const v of t.values()) v.dispose();
}
