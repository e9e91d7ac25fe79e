// `carso demo` (without its training step, on a handful of points): the
// printed table and demo.json carry the same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_ROOT } from '../../src/data/index.js';

const haveData = existsSync(join(FASHION_MNIST_ROOT, 't10k-images-idx3-ubyte.gz'));

test(
  'carso demo --no-train: AutoAttack table on stdout equals demo.json',
  { skip: !haveData && 'Fashion-MNIST not installed', timeout: 600_000 },
  () => {
    const out = mkdtempSync(join(tmpdir(), 'carso-demo-'));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--no-train', '--n', '4', '--threads', '1', '--out', out],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const demo = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8')) as {
      rows: { model: string; autoattack: { correct: number; total: number } }[];
    };
    assert.deepEqual(
      demo.rows.map((row) => row.model),
      ['fmnist-cnn-pgd-at', 'fmnist-cnn-standard'],
    );
    for (const row of demo.rows) {
      const line = r.stdout.split('\n').find((l) => l.startsWith(`| ${row.model} |`));
      assert.ok(line, `table row for ${row.model}`);
      assert.ok(line.includes(`(${row.autoattack.correct}/${row.autoattack.total})`), `${row.model}: ${line}`);
    }
  },
);
