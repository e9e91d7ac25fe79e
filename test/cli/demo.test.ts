// `carso demo` on two test images: the verdict comes first, the printed table,
// eval.json and the report agree; a demo interrupted with Ctrl-C (SIGINT) and rerun ends with the
// same numbers as an uninterrupted one in another folder (same seed), and the
// shipped weights are untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FASHION_MNIST_ROOT } from '../../src/data/index.js';
import type { EvalResult } from '../../src/eval/result.js';

const haveData = existsSync(join(FASHION_MNIST_ROOT, 't10k-images-idx3-ubyte.gz'));
const SHIPPED = ['models/fmnist-cnn-pgd-at/model.safetensors', 'models/fmnist-carso/purifier.safetensors'];
const ARGS = ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--n', '2', '--sweep-n', '2', '--threads', '1', '--out'];
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

/** The numbers of a run folder, without timings. */
function numbers(dir: string): unknown {
  const e = JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as EvalResult;
  const s = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as { curves: unknown };
  return {
    entries: e.entries.map((x) => [x.model, x.attack, x.accuracy, x.stochastic]),
    diagnostics: e.diagnostics,
    sweep: s.curves,
  };
}

test(
  'carso demo: table = eval.json = report; Ctrl-C + rerun = uninterrupted; shipped weights untouched',
  { skip: !haveData && 'Fashion-MNIST not installed', timeout: 900_000 },
  async () => {
    const before = SHIPPED.map(sha);
    const whole = mkdtempSync(join(tmpdir(), 'carso-demo-'));
    const r = spawnSync(process.execPath, [...ARGS, whole], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ev = JSON.parse(readFileSync(join(whole, 'eval.json'), 'utf8')) as EvalResult;
    // the verdict first (both protocols), then every entry
    const out = r.stdout.split('\n');
    const verdict = out.findIndex((l) => l.startsWith('verdict:'));
    assert.ok(verdict >= 0, 'the verdict is printed');
    assert.deepEqual(
      ev.verdict.map((v) => v.id),
      ['classifier', 'carso-paper', 'carso-honest'],
    );
    ev.verdict.forEach((v, i) => {
      const line = out[verdict + 2 + i]!;
      assert.ok(line.startsWith(v.label) && line.includes(`${v.accuracy.correct}/${v.accuracy.total}`), line);
    });
    for (const e of ev.entries) {
      const model = e.protocol === undefined ? e.model : `${e.model} (${e.protocol})`;
      const line = out.find((l, i) => i > verdict && l.startsWith(model.padEnd(17) + e.attack.padEnd(30)));
      assert.ok(line?.includes(`${e.accuracy.correct}/${e.accuracy.total}`), `${model} ${e.attack}: ${line}`);
    }
    const md = readFileSync(join(whole, 'report.md'), 'utf8');
    assert.match(md, /^# .*\n\n## Verdict\n/, 'the report opens with the verdict');
    for (const e of ev.entries) assert.ok(md.includes(`${e.accuracy.correct}/${e.accuracy.total}`), e.attack);
    assert.ok(r.stdout.includes(join(whole, 'report.html')));

    // interrupt once the first stages are saved, then rerun in the same folder
    const cut = mkdtempSync(join(tmpdir(), 'carso-demo-cut-'));
    const child = spawn(process.execPath, [...ARGS, cut], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        const stages = existsSync(join(cut, 'stages')) ? readdirSync(join(cut, 'stages')) : [];
        if (stages.includes('carso-clean.json')) {
          clearInterval(poll);
          child.kill('SIGINT');
        }
      }, 50);
      child.on('exit', () => {
        clearInterval(poll);
        resolve();
      });
      child.on('error', reject);
    });
    assert.ok(!existsSync(join(cut, 'eval.json')), 'the demo was interrupted before it finished');
    const again = spawnSync(process.execPath, [...ARGS, cut], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /done earlier: reloaded/);
    assert.deepEqual(numbers(cut), numbers(whole));
    assert.deepEqual(SHIPPED.map(sha), before);
  },
);
