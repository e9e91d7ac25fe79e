// `carso attack` rejects bad input before any work starts, saying what is
// valid; a small run writes result.json (+ the adversarial images) and resumes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, saveModule, writeSafetensors } from '../../src/io/index.js';
import { ReferenceCNN } from '../../src/models/index.js';
import { dispose, manualSeed, noGrad, rand, tensor, tidy } from '../../src/tensor/index.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts', 'attack'];

function carso(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });
}

/** The same without blocking, so the failure cases can run side by side. */
function carsoAsync(...args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...CLI, ...args], { encoding: 'utf8' }, (_err, _stdout, stderr) =>
      resolve({ status: child.exitCode, stderr }),
    );
  });
}

// a random reference CNN (architecture in its metadata, as `carso train` writes it) and 6 images labelled with its predictions
const dir = mkdtempSync(join(tmpdir(), 'carso-attack-cli-'));
const ckpt = join(dir, 'model.safetensors');
const bare = join(dir, 'bare.safetensors');
manualSeed(0);
const cnn = new ReferenceCNN().eval();
saveModule(ckpt, cnn, { config: JSON.stringify({ model: 'reference-cnn', dataset: 'fashion-mnist' }) });
saveModule(bare, cnn);
const x = rand([6, 1, 28, 28]);
const y = noGrad(() => tidy(() => cnn.call(x).argmax(1)));
const data = (name: string, xs = x, ys = y): string => {
  const p = join(dir, `${name}.safetensors`);
  writeSafetensors(p, { x: xs, y: ys });
  return p;
};
const good = data('good');
const badLabels = data('labels', x, tensor([0, 1, 2, 3, 4, 12], [6], 'int64'));
const outside = data(
  'outside',
  tidy(() => x.mul(1.5)),
);
const nan = data(
  'nan',
  tidy(() => x.div(x.sub(x))),
);

const flatImages = data(
  'flat',
  tidy(() => x.reshape(6, -1)),
);
const oddArch = join(dir, 'odd-arch.safetensors');
saveModule(oddArch, cnn, { config: JSON.stringify({ model: 'nope' }) });
const base = ['--model', ckpt, '--data', good, '--eps', '0.1'];
const cases: [string, string[], RegExp][] = [
  ['negative eps', [...base, '--eps', '-0.1'], /eps '-0.1' must be > 0/],
  ['zero eps', [...base, '--eps', '0'], /eps '0' must be > 0/],
  ['eps not a number', [...base, '--eps', 'abc'], /eps 'abc' is not a number/],
  ['Linf eps above 1', [...base, '--eps', '1.5'], /Linf radius .* must be in \(0, 1\]/],
  ['unknown norm', [...base, '--norm', 'L3'], /'L3' is not one of: Linf, L2, L1/],
  ['unknown attack', [...base, '--attack', 'deepfool'], /'deepfool' is not one of: autoattack, fgsm/],
  ['unknown attack in --attacks', [...base, '--version', 'custom', '--attacks', 'apgd-ce,foo'], /unknown attack 'foo'/],
  ['custom without --attacks', [...base, '--version', 'custom'], /--version custom needs --attacks/],
  ['--attacks without custom', [...base, '--attacks', 'apgd-ce'], /--attacks goes with --attack autoattack --version custom/],
  [
    'attack without that norm',
    [...base, '--attack', 'square', '--norm', 'L1', '--eps', '3'],
    /square: norm must be one of Linf, L2/,
  ],
  [
    'missing checkpoint',
    ['--model', join(dir, 'missing.safetensors'), '--data', good, '--eps', '0.1'],
    /checkpoint '.*missing.safetensors' not found/,
  ],
  ['no architecture known', ['--model', bare, '--data', good, '--eps', '0.1'], /cannot tell the architecture .* pass --arch/],
  [
    'wrong architecture',
    ['--model', ckpt, '--arch', 'fmnist-cnn', '--data', good, '--eps', '0.1'],
    /does not fit architecture 'fmnist-cnn'/,
  ],
  ['labels out of range', ['--model', ckpt, '--data', badLabels, '--eps', '0.1'], /labels must be in \[0, 9\] \(got 12\)/],
  ['images above 1', ['--model', ckpt, '--data', outside, '--eps', '0.1'], /x must be finite and in \[0, 1\]/],
  ['images with NaN', ['--model', ckpt, '--data', nan, '--eps', '0.1'], /x must be finite and in \[0, 1\]/],
  ['--n 0', [...base, '--n', '0'], /must be a positive integer/],
  [
    'images not [N, C, H, W]',
    ['--model', ckpt, '--data', flatImages, '--eps', '0.1'],
    /flat.safetensors' must hold tensors 'x' \[N, C, H, W\]/,
  ],
  [
    'unknown architecture in the metadata',
    ['--model', oddArch, '--data', good, '--eps', '0.1'],
    /--model: .*odd-arch.safetensors: .*nope/,
  ],
];

describe('carso attack fails fast on bad input and explains', { concurrency: 4 }, () => {
  for (const [label, flags, message] of cases)
    test(label, async () => {
      const out = join(mkdtempSync(join(tmpdir(), 'carso-attack-')), 'run');
      const r = await carsoAsync(...flags, '--out', out);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, message);
      assert.ok(
        !existsSync(join(out, 'state.safetensors')) && !existsSync(join(out, 'result.json')),
        'work started despite the bad input',
      );
    });
});

test('carso attack writes result.json and the adversarial images, and resumes from its state', () => {
  const out = join(dir, 'run');
  const flags = ['--model', ckpt, '--data', good, '--attack', 'fgsm', '--eps', '8/255', '--out', out, '--save-adv'];
  const r = carso(...flags);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /clean accuracy 100\.00% \(6\/6\)/);
  assert.match(r.stderr, /fgsm.*robust/);
  const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as Record<string, unknown> & {
    settings: { eps: number; arch: string; attacks: string[] };
    clean: { correct: number };
    perAttack: { name: string; robust: number; total: number; seconds: number; queries: number }[];
    versions: Record<string, string>;
  };
  assert.equal(res.settings.arch, 'reference-cnn');
  assert.equal(res.settings.eps, 8 / 255);
  assert.deepEqual(res.settings.attacks, ['fgsm']);
  assert.equal(res.clean.correct, 6);
  assert.equal(res.perAttack[0]!.total, 6);
  assert.ok(res.perAttack[0]!.queries > 0 && res.perAttack[0]!.seconds >= 0);
  assert.ok('libtorch' in res.versions && 'carso' in res.versions);
  assert.equal(res['resumed'], false);
  const adv = readSafetensors(join(out, 'adversarial.safetensors'));
  assert.deepEqual(adv.tensors.get('xAdv')!.shape, [6, 1, 28, 28]);
  assert.deepEqual(adv.tensors.get('robust')!.toArray().filter(Boolean).length, res.perAttack[0]!.robust);
  dispose([...adv.tensors.values()]);
  const again = carso(...flags);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /resuming from/);
  const res2 = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { resumed: boolean; robust: unknown };
  assert.equal(res2.resumed, true);
  assert.deepEqual(res2.robust, res['robust']);
});

test('carso attack --help documents the flags', () => {
  const r = carso('--help');
  assert.equal(r.status, 0);
  for (const flag of [
    '--model',
    '--arch',
    '--attack',
    '--version',
    '--attacks',
    '--norm',
    '--eps',
    '--n',
    '--seed',
    '--batch-size',
    '--out',
    '--save-adv',
  ])
    assert.match(r.stdout, new RegExp(flag));
});
