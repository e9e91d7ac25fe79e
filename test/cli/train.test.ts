// `carso train` rejects invalid values before any work starts, saying what is valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function carso(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
}

const cases: [string[], RegExp][] = [
  [['--eps', '-0.1'], /eps '-0.1' must be in \(0, 1\]/],
  [['--eps', 'abc'], /'abc' is not a number/],
  [['--model', 'resnet9000'], /'resnet9000' is not one of: .*reference-cnn/],
  [['--dataset', 'imagenet'], /'imagenet' is not one of: fashion-mnist/],
  [['--method', 'magic'], /'magic' is not one of: standard, pgd-at, trades, fast-at/],
  [['--epochs', '0'], /must be a positive integer/],
  [['--dataset', 'cifar10', '--data-dir', '/nonexistent/cifar'], /nonexistent\/cifar/],
];

for (const [flags, message] of cases) {
  test(`carso train ${flags.join(' ')} fails fast and explains`, () => {
    const out = join(mkdtempSync(join(tmpdir(), 'carso-cli-')), 'run');
    const r = carso('train', ...flags, '--out', out);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, message);
    assert.ok(!existsSync(join(out, 'checkpoint.safetensors')), 'work started despite the bad flag');
  });
}

test('carso train --help documents the flags', () => {
  const r = carso('train', '--help');
  assert.equal(r.status, 0);
  for (const flag of ['--method', '--eps', '--resume', '--schedule', '--seed', '--out']) assert.match(r.stdout, new RegExp(flag));
});
