// torch.save files read as data: every tensor PyTorch wrote (views, shared
// storages, dtypes) comes back bit-exact, the usual checkpoint layouts load into
// carso's architectures, damage gets an Error naming the file, and hostile
// pickles are refused with nothing run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispose } from '../../src/tensor/index.js';
import { createModel } from '../../src/models/index.js';
import {
  findStateDict,
  loadModule,
  readSafetensors,
  readTorchFile,
  readWeights,
  TensorRef,
  torchUnpickleOptions,
} from '../../src/io/index.js';
import { unpickle } from '../../src/io/pickle.js';
import { ZipArchive } from '../../src/io/zip.js';
import { checkTensor } from '../helpers.js';
import { SHIPPED_CNN, TORCH_PYTHON, runTorchPython, torchFiles, torchUnavailable } from '../fixtures.js';

const why = torchUnavailable();
const scratch = mkdtempSync(join(tmpdir(), 'carso-torch-file-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let files = '';
before(() => {
  if (why === null) files = torchFiles();
});

/** The value at a path of Map keys / array indices. */
function at(root: unknown, ...path: (string | number)[]): unknown {
  let v = root;
  for (const k of path) v = v instanceof Map ? v.get(k) : (v as unknown[])[k as number];
  return v;
}

describe('torch.save files', { skip: why ?? false }, () => {
  test('every tensor of mixed.pt equals what PyTorch saved, bit for bit; containers and scalars come back as data', () => {
    const file = readTorchFile(join(files, 'mixed.pt'));
    const { tensors: expected } = readSafetensors(join(files, 'mixed-expected.safetensors'));
    const refs = [...expected.keys()].map((k) => at(file.root, ...k.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p))));
    assert.ok(refs.every((r) => r instanceof TensorRef));
    const got = file.materialize(refs as TensorRef[]);
    [...expected].forEach(([k, e], i) => {
      const g = got[i]!;
      assert.equal(g.dtype, e.dtype, k);
      // NOTE: exact: the bytes are copied, never computed on
      checkTensor(g, e, k, 0, 0);
    });
    assert.deepEqual((at(file.root, 'list') as unknown[]).slice(1), [3, -1.5, null, true, 'text', [1, 2], 2n ** 70n]);
    dispose([got, [...expected.values()]]);
  });

  test("plain, nested ('state_dict'), 'model' + 'module.' prefix, 'net' of Parameters and legacy files load into FmnistCNN", () => {
    const reference = readSafetensors(SHIPPED_CNN).tensors;
    for (const name of ['plain', 'nested', 'model-module', 'net', 'legacy']) {
      const net = createModel('fmnist-cnn');
      loadModule(join(files, `${name}.pt`), net);
      for (const [k, t] of net.stateDict()) checkTensor(t, reference.get(k)!, `${name}: ${k}`, 0, 0);
      net.dispose();
    }
    dispose([...reference.values()]);
  });

  test('an archive repacked with deflate reads the same', () => {
    const repacked = join(scratch, 'deflated.pt');
    const py = `import zipfile,sys\nsrc=zipfile.ZipFile(sys.argv[1])\ndst=zipfile.ZipFile(sys.argv[2],'w',zipfile.ZIP_DEFLATED)\nfor n in src.namelist(): dst.writestr(n, src.read(n))\ndst.close()`;
    const r = spawnSync(TORCH_PYTHON, ['-c', py, join(files, 'plain.pt'), repacked], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const a = readWeights(join(files, 'plain.pt')).tensors;
    const b = readWeights(repacked).tensors;
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, t] of a) checkTensor(b.get(k)!, t, k, 0, 0);
    dispose([[...a.values()], [...b.values()]]);
  });

  test('damaged or unsuitable files get an Error naming the file; the module keeps its weights', () => {
    const net = createModel('fmnist-cnn');
    const before = net.stateDict().get('0.weight')!.toFloat32Array();
    const raw = readFileSync(join(files, 'plain.pt'));
    const cut = join(scratch, 'cut.pt');
    writeFileSync(cut, raw.subarray(0, raw.length >> 1));
    const noise = join(scratch, 'noise.bin');
    writeFileSync(noise, Buffer.from('<!DOCTYPE html> not weights'));
    const cases: [string, RegExp][] = [
      [cut, /cut\.pt: no end-of-central-directory record/],
      [noise, /noise\.bin: not a safetensors, torch\.save or TorchScript file \(it starts with bytes 3c 21 44/],
      [join(files, 'mixed.pt'), /mixed\.pt: no state dict .* its keys: weights, shared, dtypes, scalar, list/],
      [join(files, 'scripted.pt'), /scripted\.pt: a TorchScript module .* ScriptModule\.load/],
    ];
    for (const [file, message] of cases) assert.throws(() => loadModule(file, net), message);
    const small = createModel('reference-cnn');
    assert.throws(() => loadModule(join(files, 'plain.pt'), small), /plain\.pt: loadStateDict[^]*unexpected keys: 6\.weight/);
    assert.deepEqual(net.stateDict().get('0.weight')!.toFloat32Array(), before);
    net.dispose();
    small.dispose();
  });

  test('a pickle cut at any byte is an Error naming the file (never a crash, hang or partial result)', () => {
    const zip = new ZipArchive(readFileSync(join(files, 'mixed.pt')), 'mixed.pt');
    const pkl = zip.read('mixed/data.pkl');
    const o = torchUnpickleOptions('cut.pkl');
    assert.ok(unpickle(pkl, o).value instanceof Map, 'the whole pickle reads');
    for (let n = 0; n < pkl.length; n++)
      assert.throws(() => unpickle(pkl.subarray(0, n), o), /^Error: cut\.pkl: pickle byte \d+: /);
  });

  test('a storage shorter than its tensor is an Error, not a read past the end', () => {
    // the mixed.pt record of 'weights.plain' (key 0, 6 floats) shortened to 5 floats
    const py = `import zipfile,sys\nsrc=zipfile.ZipFile(sys.argv[1])\ndst=zipfile.ZipFile(sys.argv[2],'w')\nfor n in src.namelist(): dst.writestr(n, src.read(n)[:20] if n.endswith('/data/0') else src.read(n))\ndst.close()`;
    const short = join(scratch, 'short.pt');
    const r = spawnSync(TORCH_PYTHON, ['-c', py, join(files, 'mixed.pt'), short], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const file = readTorchFile(short);
    assert.throws(
      () => file.materialize([at(file.root, 'weights', 'plain') as TensorRef]),
      /short\.pt: tensor \[3, 2\] .* reaches element 5 of storage '0', which holds 5/,
    );
  });

  test('a tensor with more elements than its storage (overlapping strides) is an Error, not a copy far larger than the file', () => {
    // NOTE: what a size edited up over a stride of 0 did: 2^24 floats copied from one stored float, 64 MB from a 1 kB file
    const py = `import torch,sys\ntorch.save({'big': torch.zeros(1).expand(1 << 24), 'ids': torch.arange(4.).expand(1, 4)}, sys.argv[1])`;
    const file = join(scratch, 'expanded.pt');
    const r = spawnSync(TORCH_PYTHON, ['-c', py, file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const t = readTorchFile(file);
    assert.throws(
      () => t.materialize([at(t.root, 'big') as TensorRef]),
      /expanded\.pt: tensor \[16777216\] \(offset 0, stride \[0\]\) has 16777216 elements, but storage '\d+' holds 1/,
    );
    // an expanded tensor no larger than its storage (e.g. position ids [1, n], stride [0, 1]) still reads
    const [ids] = t.materialize([at(t.root, 'ids') as TensorRef]);
    assert.deepEqual(
      [ids!.shape, [...ids!.toFloat32Array()]],
      [
        [1, 4],
        [0, 1, 2, 3],
      ],
    );
    ids!.dispose();
  });
});

describe('hostile pickles', { skip: why ?? false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'carso-hostile-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: [string, string][] = [
    ['system-zip.pt', 'posix.system'],
    ['system-raw.pkl', 'posix.system'],
    ['eval-p4.pkl', 'builtins.eval'],
    ['checkpoint.pt', 'posix.system'],
  ];

  test('each is refused with an Error naming the file and the global, and its command never runs', () => {
    runTorchPython('gen_hostile_pickles.py', [dir]);
    for (const [name, global] of cases) {
      const file = join(dir, name);
      const refused = new RegExp(
        `${name.replace('.', '\\.')}: refused: the pickle names the Python global '${global.replace('.', '\\.')}'`,
      );
      const net = createModel('fmnist-cnn');
      assert.throws(() => loadModule(file, net), refused);
      assert.throws(() => readTorchFile(file), refused);
      net.dispose();
      assert.ok(!existsSync(join(dir, `ran-${name.split('.')[0]}`)), `${name}: its command ran`);
    }
  });

  test('the same files do run their command in Python (so the test above can fail)', () => {
    // NOTE: pickle.load on the bare pickles, torch.load (weights_only=False in 1.13) on the archives
    for (const [name] of cases) {
      const load = name.endsWith('.pt') ? 'torch.load(sys.argv[1])' : "pickle.load(open(sys.argv[1], 'rb'))";
      spawnSync(TORCH_PYTHON, ['-c', `import pickle, sys, torch\n${load}`, join(dir, name)], { encoding: 'utf8' });
      assert.ok(existsSync(join(dir, `ran-${name.split('.')[0]}`)), `${name}: Python did not run it either`);
    }
  });
});

test('findStateDict: the first state dict among the known keys, module. prefixes dropped only when all have them', () => {
  // a stand-in storage: these refs are never materialised
  const storage = { key: '0', dtype: 'float32' } as ConstructorParameters<typeof TensorRef>[0];
  const ref = (n: number): TensorRef => new TensorRef(storage, 0, [n], [1]);
  const inner = new Map<string, unknown>([
    ['module.a', ref(1)],
    ['module.b', ref(2)],
  ]);
  const sd = findStateDict(
    new Map<string, unknown>([
      ['epoch', 3],
      ['model', new Map([['state_dict', inner]])],
    ]),
    'x.pt',
  );
  assert.deepEqual([...sd.keys()], ['a', 'b']);
  const mixed = findStateDict(
    new Map<string, unknown>([
      ['module.a', ref(1)],
      ['b', ref(1)],
    ]),
    'y.pt',
  );
  assert.deepEqual([...mixed.keys()], ['module.a', 'b']);
  assert.throws(() => findStateDict([1, 2], 'z.pt'), /z\.pt: no state dict .* it holds a list/);
});
