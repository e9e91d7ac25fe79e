// A killed training run, resumed, ends with the same weights as an
// uninterrupted run with the same seed (bit for bit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_ROOT } from '../../src/data/index.js';

const haveData = existsSync(join(FASHION_MNIST_ROOT, 'train-images-idx3-ubyte.gz'));
const CLI = ['--import', 'tsx', 'src/cli/main.ts', 'train'];
const FLAGS = [
  '--method',
  'fast-at',
  '--limit',
  '640',
  '--batch-size',
  '32',
  '--epochs',
  '4',
  '--val-size',
  '64',
  '--val-pgd-size',
  '16',
  '--threads',
  '1',
  '--seed',
  '3',
  '--test-points',
  '50',
];

function run(out: string, extra: string[] = []): void {
  const r = spawnSync(process.execPath, [...CLI, ...FLAGS, '--out', out, ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test(
  'killed + resumed run equals the uninterrupted run',
  { skip: !haveData && 'Fashion-MNIST not installed', timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'carso-resume-'));
    const whole = join(dir, 'whole');
    run(whole);

    // Start the same run and SIGKILL it once the first epoch's checkpoint is written.
    const cut = join(dir, 'cut');
    const child = spawn(process.execPath, [...CLI, ...FLAGS, '--out', cut], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const metrics = join(cut, 'metrics.jsonl');
    while (!existsSync(metrics) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    assert.ok(!existsSync(join(cut, 'model.safetensors')), 'run finished before it could be killed; the test proves nothing');
    const done = readFileSync(metrics, 'utf8').trim().split('\n').length;
    assert.ok(done >= 1 && done < 4, `killed after ${done} epochs`);

    run(cut, ['--resume']);
    const a = readFileSync(join(whole, 'model.safetensors'));
    const b = readFileSync(join(cut, 'model.safetensors'));
    assert.ok(a.equals(b), 'final weights differ between the uninterrupted and the resumed run');
    const ma = readFileSync(join(whole, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .map((l) => l.replace(/"seconds":[0-9.e-]+/, ''));
    const mb = readFileSync(metrics, 'utf8')
      .split('\n')
      .map((l) => l.replace(/"seconds":[0-9.e-]+/, ''));
    assert.deepEqual(mb, ma, 'per-epoch metrics differ');
  },
);

test(
  'resume refuses a checkpoint made with other flags',
  { skip: !haveData && 'Fashion-MNIST not installed', timeout: 120_000 },
  () => {
    const out = mkdtempSync(join(tmpdir(), 'carso-resume-'));
    const first = spawnSync(process.execPath, [...CLI, ...FLAGS.map((f) => (f === '4' ? '1' : f)), '--out', out], {
      encoding: 'utf8',
    });
    assert.equal(first.status, 0, first.stderr);
    const r = spawnSync(process.execPath, [...CLI, ...FLAGS, '--lr', '0.2', '--out', out, '--resume'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /another configuration/);
  },
);
