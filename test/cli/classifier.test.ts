// The commands take a classifier as TorchScript or as a torch.save state dict
// (src/cli/classifier.ts): `carso attack --model scripted.pt` needs no --arch and
// matches the same weights in carso's architecture; train-purifier, eval and
// report run on a scripted classifier through its CARSO taps.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_ROOT } from '../../src/data/index.js';
import { readSafetensors } from '../../src/io/index.js';
import { torchFiles, torchUnavailable } from '../fixtures.js';

const skip =
  torchUnavailable() ??
  (existsSync(join(FASHION_MNIST_ROOT, 't10k-images-idx3-ubyte.gz'))
    ? false
    : 'Fashion-MNIST not installed (dataset-fashion-mnist)');
const out = mkdtempSync(join(tmpdir(), 'carso-cli-classifier-'));
let files = '';
before(() => {
  if (skip === false) files = torchFiles();
});

function carso(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
}
const json = (file: string): Record<string, unknown> => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

describe('classifiers from PyTorch files on the command line', { skip }, () => {
  test('attack: a TorchScript model needs no --arch and scores as its state dict in fmnist-cnn; a bare .pt needs --arch', () => {
    const common = ['--attack', 'apgd-ce', '--iters', '5', '--eps', '0.1', '--n', '4', '--threads', '1'];
    const a = carso('attack', '--model', join(files, 'scripted.pt'), ...common, '--out', join(out, 'a'));
    assert.equal(a.status, 0, a.stderr);
    const b = carso('attack', '--model', join(files, 'nested.pt'), '--arch', 'fmnist-cnn', ...common, '--out', join(out, 'b'));
    assert.equal(b.status, 0, b.stderr);
    const [ra, rb] = [json(join(out, 'a', 'result.json')), json(join(out, 'b', 'result.json'))];
    assert.equal((ra['settings'] as { arch: string }).arch, 'torchscript');
    for (const k of ['clean', 'robust', 'perAttack'])
      assert.deepEqual(
        JSON.stringify(ra[k], (key, v: unknown) => (key === 'seconds' ? undefined : v)),
        JSON.stringify(rb[k], (key, v: unknown) => (key === 'seconds' ? undefined : v)),
        k,
      );
    const c = carso('attack', '--model', join(files, 'plain.pt'), ...common, '--out', join(out, 'c'));
    assert.notEqual(c.status, 0);
    assert.match(c.stderr, /cannot tell the architecture of '.*plain\.pt' .* pass --arch/);
  });

  test('train-purifier, eval and report on a scripted classifier (its forward_taps / tap_names)', () => {
    const tp = join(out, 'purifier');
    const t = carso(
      'train-purifier',
      '--classifier-weights',
      join(files, 'scripted.pt'),
      ...['--limit', '16', '--epochs', '1', '--batch-size', '8', '--pgd-steps', '1', '--threads', '1', '--out', tp],
    );
    assert.equal(t.status, 0, t.stderr);
    const meta = readSafetensors(join(tp, 'purifier.safetensors')).metadata;
    assert.deepEqual((JSON.parse(meta['purifier']!) as { taps: string[] }).taps, ['2', '4', '6', '8']);
    const skipStages =
      'classifier-aa,carso-aa-rand,carso-pgd-eot,carso-high-eps,carso-transfer,carso-square,carso-gradients,carso-eot-convergence';
    const ev = join(out, 'eval');
    const e = carso(
      'eval',
      ...['--classifier-weights', join(files, 'scripted.pt'), '--purifier', join(tp, 'purifier.safetensors')],
      ...['--n', '2', '--threads', '1', '--protocols', 'honest', '--skip', skipStages, '--out', ev],
    );
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /classifier +clean +0 +\d\/2/);
    assert.match(e.stdout, /carso \(honest\) +clean +0 +\d\/2/);
    const r = carso('report', ev);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(ev, 'report.html')));
  });
});
