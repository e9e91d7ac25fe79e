// The file formats a user can point carso at, one entry each: how to make
// valid seed inputs, how to mutate one, and the library call that loads it.
// A new reader is one more entry in FORMATS (the PyTorch ones: torch-formats.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Pcg32, loadCifar10, loadCifar100, loadFashionMnist, loadTinyImageNet } from '../../src/data/index.js';
import { readBytes } from '../../src/data/files.js';
import { decodeJpegInto } from '../../src/data/jpeg.js';
import { encodeSafetensors, loadModule, readSafetensors, saveModule } from '../../src/io/index.js';
import { dispose, manualSeed, tensor } from '../../src/tensor/index.js';
import { Carso, savePurifier } from '../../src/carso/index.js';
import { resumeRun, saveCheckpoint } from '../../src/train/checkpoint.js';
import { fingerprint, loadState, saveState } from '../../src/eval/state.js';
import { writeAll } from '../../test/fixtures/data/generate.js';
import { TINY_TAPS } from '../../test/carso/tiny.js';
import { concat, mutateBytes, pick } from './mutate.js';
import { mutateIdx, mutateJpeg, mutateLines, mutateSafetensors } from './structured.js';
import { MINI, purifierClassifier, target, written, type Target } from './targets.js';
import { TORCH_FORMATS } from './torch-formats.js';
import { filesMatching, mutateStructure, only, readTree, single, type FileTree } from './tree.js';

export interface FuzzFormat {
  name: string;
  /** What a user points carso at. */
  what: string;
  /** Valid inputs (built once per process). */
  seeds(): FileTree[];
  /** One mutated input from a seed. */
  mutate(rng: Pcg32, seed: FileTree): FileTree;
  /** Loads the input written under `dir` with the library's own reader, frees what it made. */
  load(dir: string): void;
  /** The path an error must name: the file (single-file formats, the default) or the folder. */
  names?: (dir: string) => string;
}

const FILE = 'input.safetensors';

/** A safetensors-based format: seeds written by the library itself, mutated by mutateSafetensors. */
function safetensorsFormat(name: string, what: string, seeds: () => Uint8Array[], load: (path: string) => void): FuzzFormat {
  return {
    name,
    what,
    seeds: () => seeds().map((b) => single(b, FILE)),
    mutate: (rng, seed) => single(mutateSafetensors(rng, only(seed)), FILE),
    load: (dir) => load(join(dir, FILE)),
  };
}

const RUN_CONFIG = { model: 'small', lr: 0.001 };
const runState = (t: Target) => ({
  epoch: 1,
  loader: t.loader.state(),
  schedule: t.scheduler.stateDict(),
  metrics: [{ epoch: 1, loss: 0.5 }],
  config: RUN_CONFIG,
});
const EVAL_STATE = {
  clean: [true, true, false, true],
  robust: [true, false, false, true],
  nanGrad: [false, false, false, false],
  // (the fuzzer mutates these too: distances, nulls and a stop reason)
  moved: [0.05, 0.1, null, 0],
  stopped: [null, null, null, 'non-finite-gradients' as const],
  yAdv: [0, 2, 1, 1],
  records: [],
  next: 1,
  current: { attack: 1, order: [0, 3], batchesDone: 0 },
  warnings: [],
  done: false,
};
const EVAL_X = () =>
  tensor(
    Array.from({ length: 4 * 36 }, (_, i) => (i % 7) / 7),
    [4, 1, 6, 6],
  );
let evalData: { fp: string; x: ReturnType<typeof EVAL_X> } | undefined;
function evalTarget(): { fp: string; x: ReturnType<typeof EVAL_X> } {
  if (evalData === undefined) {
    const x = EVAL_X();
    const y = tensor([0, 1, 2, 1], [4], 'int64');
    evalData = { fp: fingerprint({ norm: 'Linf', eps: 0.1 }, x, y), x };
    y.dispose();
  }
  return evalData;
}

let dataRoot: string | undefined;
/** Subfolders of the data test fixtures (test/fixtures/data/generate.ts, written once per process), keeping their names. */
function dataFixtures(...subs: string[]): FileTree {
  if (dataRoot === undefined) {
    const root = mkdtempSync(join(tmpdir(), 'carso-fuzz-data-'));
    dataRoot = root;
    writeAll(root);
    process.on('exit', () => rmSync(root, { recursive: true, force: true }));
  }
  const root = dataRoot;
  return new Map(subs.flatMap((sub) => [...readTree(join(root, sub))].map(([k, v]) => [`${sub}/${k}`, v] as const)));
}

const HOSTILE_PATHS = [
  '../../../../../../../../dev/zero',
  '../wnids.txt',
  '/etc/passwd',
  '.',
  '..',
  '',
  'nope.JPEG',
  'n01443537',
];
const HOSTILE_WNIDS = ['n01443537', '', '../train', 'x'.repeat(300), '.', 'train'];

/** Applies a per-file mutation to one file of `tree` chosen among `files`. */
function mutateOne(tree: FileTree, file: string, f: (b: Uint8Array) => Uint8Array): FileTree {
  const out = new Map(tree);
  out.set(file, f(tree.get(file) as Uint8Array));
  return out;
}

/** IDX: the header edits on the uncompressed bytes (re-gzipped when the seed was), or raw byte edits. */
function mutateIdxFile(rng: Pcg32, bytes: Uint8Array, gz: boolean): Uint8Array {
  if (!gz || rng.int(4) === 0) return gz ? mutateBytes(rng, bytes) : mutateIdx(rng, bytes);
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(gunzipSync(bytes));
  } catch {
    return mutateBytes(rng, bytes); // an earlier mutation already broke the gzip stream
  }
  return gzipSync(mutateIdx(rng, raw));
}

function dataFolderFormat(
  name: string,
  what: string,
  subs: string[],
  perFile: (rng: Pcg32, file: string, bytes: Uint8Array) => Uint8Array,
  load: (dir: string) => void,
): FuzzFormat {
  return {
    name,
    what,
    seeds: () => [dataFixtures(...subs)],
    mutate: (rng, seed) => {
      const files = filesMatching(seed, /./);
      if (files.length === 0 || rng.int(8) === 0) return mutateStructure(rng, seed);
      const file = pick(rng, files);
      return mutateOne(seed, file, (b) => perFile(rng, file, b));
    },
    load,
    names: (dir) => dir,
  };
}

export const FORMATS: readonly FuzzFormat[] = [
  safetensorsFormat(
    'safetensors',
    'any .safetensors file (readSafetensors)',
    () => [
      concat(
        encodeSafetensors(
          {
            w: tensor([1, 2, 3, 4, 5, 6], [2, 3]),
            idx: tensor([1, 2, 3], [3], 'int64'),
            empty: tensor([], [0, 4], 'uint8'),
            flag: tensor([1, 0, 1, 1], [2, 2], 'bool'),
            half: tensor([0.5, 1, 2], [3]).to('bfloat16'),
            f16: tensor([0.25, -1], [2]).to('float16'),
            scalar: tensor([3.25], [], 'float64'),
          },
          { note: 'seed', json: JSON.stringify({ k: [1, 2], s: 'x' }) },
        ),
      ),
      concat(encodeSafetensors({ only: tensor([7, 8], [2], 'int32') })),
    ],
    (path) => dispose([...readSafetensors(path).tensors.values()]),
  ),
  safetensorsFormat(
    'weights',
    'model weights (loadModule; carso attack --model, eval --classifier-weights)',
    () => [written((p) => saveModule(p, target().net, { arch: 'small' }))],
    (path) => void loadModule(path, target().net),
  ),
  safetensorsFormat(
    'checkpoint',
    'training checkpoint (train/train-purifier --resume: resumeRun)',
    () => [written((p) => saveCheckpoint(p, { model: target().net, optimizer: target().opt, state: runState(target()) }))],
    (path) => {
      const t = target();
      resumeRun(path, { model: t.net, optimizer: t.opt, loader: t.loader, scheduler: t.scheduler, config: RUN_CONFIG });
    },
  ),
  safetensorsFormat(
    'purifier',
    'CARSO purifier (Carso.load; carso eval --purifier)',
    () =>
      [false, true].map((encoder) =>
        written((p) => {
          manualSeed(1);
          const c = new Carso(purifierClassifier(), { geometry: MINI, taps: TINY_TAPS });
          savePurifier(p, c.purifier, { encoder, taps: TINY_TAPS });
          c.purifier.dispose();
        }),
      ),
    (path) => Carso.load(purifierClassifier(), path).purifier.dispose(),
  ),
  safetensorsFormat(
    'eval-state',
    'AutoAttack state (carso attack / eval resume)',
    () => [
      written((p) => {
        const { fp, x } = evalTarget();
        saveState(p, fp, EVAL_STATE, x);
      }),
    ],
    (path) => {
      const { fp, x } = evalTarget();
      loadState(path, fp, x)?.xAdv.dispose();
    },
  ),
  dataFolderFormat(
    'idx',
    'Fashion-MNIST / MNIST IDX files, raw or gzipped (--data-dir)',
    ['idx'],
    (rng, file, b) => mutateIdxFile(rng, b, file.endsWith('.gz')),
    (dir) => {
      for (const sub of ['raw', 'gz'])
        for (const split of ['train', 'test'] as const) loadFashionMnist({ root: join(dir, 'idx', sub), split });
    },
  ),
  dataFolderFormat(
    'cifar',
    'CIFAR-10 and CIFAR-100 binary batches and their class-name files (--data-dir)',
    ['cifar10', 'cifar100'],
    (rng, file, b) => (file.endsWith('.txt') ? mutateLines(rng, b, HOSTILE_WNIDS) : cifarRecordEdit(rng, b)),
    (dir) => {
      for (const split of ['train', 'test'] as const) {
        loadCifar10({ root: join(dir, 'cifar10'), split });
        loadCifar100({ root: join(dir, 'cifar100'), split });
      }
    },
  ),
  dataFolderFormat(
    'tiny-imagenet',
    'TinyImageNet-200 folder: wnids.txt, val_annotations.txt, JPEGs (--data-dir)',
    ['tiny'],
    (rng, file, b) =>
      file.endsWith('.JPEG')
        ? mutateJpeg(rng, b)
        : mutateLines(rng, b, file.endsWith('wnids.txt') ? HOSTILE_WNIDS : HOSTILE_PATHS),
    (dir) => {
      loadTinyImageNet({ root: join(dir, 'tiny'), split: 'train' });
      loadTinyImageNet({ root: join(dir, 'tiny'), split: 'test' });
    },
  ),
  {
    name: 'jpeg',
    what: 'one TinyImageNet JPEG (decodeJpegInto, 64x64)',
    seeds: () => {
      const tiny = dataFixtures('tiny');
      return filesMatching(tiny, /JPEG$/).map((f) => single(tiny.get(f) as Uint8Array, 'x.JPEG'));
    },
    mutate: (rng, seed) => single(mutateJpeg(rng, only(seed)), 'x.JPEG'),
    names: (dir) => join(dir, 'x.JPEG'),
    load: (dir) => {
      const file = join(dir, 'x.JPEG');
      decodeJpegInto(readBytes(file), file, 64, 64, new Uint8Array(3 * 64 * 64), 0);
    },
  },
  ...TORCH_FORMATS,
];

/** CIFAR: a label byte out of range, or a byte-level edit. */
function cifarRecordEdit(rng: Pcg32, b: Uint8Array): Uint8Array {
  if (rng.int(3) !== 0 || b.length === 0) return mutateBytes(rng, b);
  const out = b.slice();
  const recordSize = b.length % 3074 === 0 ? 3074 : 3073;
  out[recordSize * rng.int(Math.max(1, Math.floor(b.length / recordSize)))] = pick(rng, [10, 19, 20, 99, 100, 255]);
  return out;
}
