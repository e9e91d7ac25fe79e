// The PyTorch files a user can point carso at: torch.save checkpoints in the zip
// and legacy formats (read as data: readTorchFile, loadModule), TorchScript
// archives (ScriptModule.load: libtorch's torch::jit::load behind the native
// boundary), and the CARSO authors' three-file purifier (Carso.load). Seeds: the
// committed test/fixtures/fuzz/*.pt (gen_fuzz_seeds.py, Debian's torch 1.13) and
// the library's own writer.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pcg32 } from '../../src/data/random.js';
import { loadModule, readTorchFile, TensorRef } from '../../src/io/index.js';
import { ScriptModule } from '../../src/nn/index.js';
import { dispose, manualSeed } from '../../src/tensor/index.js';
import { Carso, saveAuthorsPurifier } from '../../src/carso/index.js';
import { FIXTURES } from '../../test/fixtures.js';
import { TINY_TAPS } from '../../test/carso/tiny.js';
import type { FuzzFormat } from './formats.js';
import { EDGE_INTS, mutateBytes, pick, type Bytes } from './mutate.js';
import { mutatePickle, scanPickles } from './pickle.js';
import { mutateSafetensors } from './structured.js';
import { MINI, purifierClassifier, target } from './targets.js';
import { filesMatching, mutateStructure, only, readTree, single, type FileTree } from './tree.js';
import { mutateZip } from './zip.js';

const PT = 'input.pt';
const seedFile = (name: string): Bytes => new Uint8Array(readFileSync(join(FIXTURES, 'fuzz', name)));

/** Every TensorRef in an unpickled object, once each (memo references can make cycles). */
function tensorRefs(root: unknown): TensorRef[] {
  const seen = new Set<unknown>();
  const out: TensorRef[] = [];
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    if (v instanceof TensorRef) out.push(v);
    else if (v instanceof Map)
      for (const [k, x] of v) {
        walk(k);
        walk(x);
      }
    else if (Array.isArray(v)) v.forEach(walk);
  };
  walk(root);
  return out;
}

/** What a torch.save file goes through: every tensor in it read (readTorchFile), then loadModule into the small net. */
function loadTorch(dir: string): void {
  const path = join(dir, PT);
  const file = readTorchFile(path);
  dispose(file.materialize(tensorRefs(file.root)));
  loadModule(path, target().net);
}

/** The legacy format: a pickle edit, the first storage's element count, or bytes. */
function mutateLegacy(rng: Pcg32, src: Bytes): Bytes {
  const { end } = scanPickles(src);
  if (rng.int(4) === 0 && end + 8 <= src.length) {
    const b = src.slice();
    const count = BigInt.asUintN(64, BigInt(pick(rng, [...EDGE_INTS, -1, -(2 ** 31), 2 ** 62])));
    new DataView(b.buffer).setBigUint64(end, count, true);
    return b;
  }
  return rng.int(3) === 0 ? mutateBytes(rng, src) : mutatePickle(rng, src);
}

function torchFile(
  name: string,
  what: string,
  seeds: string[],
  mutate: (rng: Pcg32, b: Bytes) => Bytes,
  load: (dir: string) => void,
): FuzzFormat {
  return {
    name,
    what,
    seeds: () => seeds.map((s) => single(seedFile(s), PT)),
    mutate: (rng, seed) => single(mutate(rng, only(seed)), PT),
    load,
    names: (dir) => join(dir, PT),
  };
}

const AUTHORS_BASE = 'p';

/** The authors' three files (repr_compressors, repr_fcn_compressor, decoder) of the narrow tiny CARSO. */
function authorsSeed(): FileTree {
  const dir = mkdtempSync(join(tmpdir(), 'carso-fuzz-authors-'));
  try {
    manualSeed(1);
    const c = new Carso(purifierClassifier(), { geometry: MINI, taps: TINY_TAPS });
    saveAuthorsPurifier(join(dir, AUTHORS_BASE), c.purifier);
    c.purifier.dispose();
    return readTree(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const TORCH_FORMATS: readonly FuzzFormat[] = [
  torchFile(
    'torch-zip',
    'torch.save file, zip format (.pt/.pth; loadModule, readTorchFile)',
    ['small-zip.pt', 'mixed-zip.pt'],
    mutateZip,
    loadTorch,
  ),
  torchFile(
    'torch-legacy',
    'torch.save file, legacy format (_use_new_zipfile_serialization=False)',
    ['small-legacy.pt', 'mixed-legacy.pt'],
    mutateLegacy,
    loadTorch,
  ),
  torchFile(
    'torchscript',
    'TorchScript archive (torch.jit.save; ScriptModule.load, --model / --classifier-weights)',
    ['small-script.pt', 'small-frozen.pt'],
    mutateZip,
    (dir) => ScriptModule.load(join(dir, PT)).dispose(),
  ),
  {
    name: 'authors-purifier',
    what: "the CARSO authors' purifier: <base>_{repr_compressors,repr_fcn_compressor,decoder}.safetensors (Carso.load)",
    seeds: () => [authorsSeed()],
    mutate: (rng, seed) => {
      const files = filesMatching(seed, /./);
      if (files.length === 0 || rng.int(8) === 0) return mutateStructure(rng, seed);
      const file = pick(rng, files);
      const out = new Map(seed);
      out.set(file, mutateSafetensors(rng, seed.get(file) as Bytes));
      return out;
    },
    load: (dir) => Carso.load(purifierClassifier(), dir, { geometry: MINI, taps: TINY_TAPS }).purifier.dispose(),
    names: (dir) => dir,
  },
];
