// The commands under a launcher: 2 local ranks (torchrun's variables, Gloo on
// 127.0.0.1) write what one process writes. `carso attack`: result.json (but
// for timings and versions) and the adversarial images, also under Debian's
// torchrun, and with --pin-cpus; `carso train`: the weights, and a run
// checkpointed on 2 ranks resumes on 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, saveModule, writeSafetensors } from '../../src/io/index.js';
import { ReferenceCNN } from '../../src/models/index.js';
import { dispose, manualSeed, noGrad, rand, tidy, type Tensor } from '../../src/tensor/index.js';
import { freePort, runProcess } from '../../src/dist/local.js';
import { native } from '../../src/tensor/native.js';
import { explain, runNode, runRanks, type RankRun } from './ranks.js';

const CLI = 'src/cli/main.ts';
const TORCHRUN = '/usr/bin/torchrun';
const dir = mkdtempSync(join(tmpdir(), 'carso-dist-cli-'));
const ok = (runs: RankRun[]): void =>
  assert.ok(
    runs.every((r) => r.code === 0),
    explain(runs),
  );

/** Largest |a - b| over the tensors of two safetensors files (same keys). */
function maxDiff(a: string, b: string): number {
  const [ta, tb] = [readSafetensors(a).tensors, readSafetensors(b).tensors];
  assert.deepEqual([...ta.keys()].sort(), [...tb.keys()].sort());
  let worst = 0;
  for (const [k, v] of ta)
    worst = Math.max(
      worst,
      v
        .to('float64')
        .sub((tb.get(k) as Tensor).to('float64'))
        .abs()
        .max()
        .item(),
    );
  dispose([...ta.values(), ...tb.values()]);
  return worst;
}

// a random reference CNN and 6 images labelled with its predictions; APGD-CE at eps 0.01 breaks some of them
manualSeed(0);
const cnn = new ReferenceCNN().eval();
const model = join(dir, 'model.safetensors');
saveModule(model, cnn, { config: JSON.stringify({ model: 'reference-cnn', dataset: 'fashion-mnist' }) });
const x = rand([6, 1, 28, 28]);
const data = join(dir, 'points.safetensors');
writeSafetensors(data, { x, y: noGrad(() => tidy(() => cnn.call(x).argmax(1))) });
const attack = (out: string): string[] =>
  [CLI, 'attack', '--model', model, '--data', data, '--attack', 'apgd-ce', '--iters', '10'].concat([
    '--eps',
    '0.01',
    '--batch-size',
    '2',
    '--threads',
    '1',
    '--save-adv',
    '--out',
    join(dir, out),
  ]);
/** result.json without what may differ between runs (timings, versions). */
function result(out: string): Record<string, unknown> {
  const r = JSON.parse(readFileSync(join(dir, out, 'result.json'), 'utf8')) as Record<string, unknown>;
  const perAttack = (r['perAttack'] as Record<string, unknown>[]).map(({ seconds: _s, ...a }) => a);
  return { ...r, perAttack, seconds: 0, versions: null };
}

test('carso attack on 2 ranks: the result.json and adversarial images of 1 process', async () => {
  const [one, two] = await Promise.all([runNode(attack('one')), runRanks(2, () => attack('two'))]);
  ok([one]);
  ok(two);
  assert.equal(two[1]!.stdout, '', 'rank 1 prints nothing');
  assert.deepEqual(result('two'), result('one'));
  const robust = (result('one')['robust'] as { correct: number }).correct;
  assert.ok(robust > 0 && robust < 6, `APGD-CE broke some of the 6 points and not all (robust ${robust})`);
  assert.equal(maxDiff(join(dir, 'one', 'adversarial.safetensors'), join(dir, 'two', 'adversarial.safetensors')), 0);
});

const allowed = native.cpuAffinity() ?? [];

test(
  '--pin-cpus on 2 ranks: the result of 1 process; a rank whose CPUs do not fit fails the run at once',
  { skip: allowed.length < 2 },
  async () => {
    const pinned = await runRanks(2, () => [...attack('pinned'), '--pin-cpus']);
    ok(pinned);
    assert.match(pinned[0]!.stderr, new RegExp(`rank 0 on CPU ${allowed[0]}\\b`));
    assert.deepEqual(result('pinned'), result('one'));
    // NOTE: no LOCAL_WORLD_SIZE here, so rank 0 fits its N CPUs and rank 1 (CPUs N..2N-1) does not: rank 1 stops after
    // joining, and rank 0 must hear of it at its next collective, not after the 120 s timeout
    const t0 = performance.now();
    const tooMany = ['--pin-cpus', '--threads', String(allowed.length), '--dist-timeout', '120'];
    const runs = await runRanks(2, () => [...attack('nofit'), ...tooMany]);
    const seconds = (performance.now() - t0) / 1000;
    assert.notEqual(runs[1]!.code, 0, explain(runs));
    assert.match(runs[1]!.stderr, /--pin-cpus: 2 process\(es\) on this machine x \d+ thread\(s\) need/);
    assert.notEqual(runs[0]!.code, 0, explain(runs));
    assert.ok(seconds < 60, `the run stopped in ${seconds.toFixed(1)} s`);
    assert.ok(!existsSync(join(dir, 'nofit', 'result.json')), 'no result written');
  },
);

test(
  'under torchrun (its agent store; --no_python node): the result.json of 1 process',
  { skip: !existsSync(TORCHRUN) },
  async () => {
    // NOTE: Debian's torchrun 1.13 on Python 3.11 needs explicit --redirects / --tee (its default '0' fails to parse)
    const flags = ['--nproc_per_node', '2', '--master_port', String(await freePort()), '--redirects', '1', '--tee', '1'];
    const run = await runProcess(TORCHRUN, [...flags, '--no_python', process.execPath, '--import', 'tsx', ...attack('torchrun')]);
    ok([run]);
    assert.deepEqual(result('torchrun'), result('one'));
  },
);

test('carso train on 2 ranks = 1 process; its checkpoint resumes on 1 process', async () => {
  // NOTE: a constant lr: a schedule depends on --epochs, which the resumed run raises from 1 to 2
  const base = '--model fmnist-cnn --limit 64 --batch-size 16 --val-size 0 --val-pgd-size 0 --test-points 16'.split(' ');
  const flags = [...base, ...'--threads 1 --lr 0.05 --schedule constant'.split(' ')];
  const train = (out: string, epochs: number, ...extra: string[]): string[] => [
    CLI,
    'train',
    ...flags,
    '--epochs',
    String(epochs),
    '--out',
    join(dir, out),
    ...extra,
  ];
  const [one, two] = await Promise.all([runNode(train('t1', 2)), runRanks(2, () => train('t2', 1))]);
  ok([one]);
  ok(two);
  ok([await runNode(train('t2', 2, '--resume'))]); // epoch 2 on one process, from the 2-rank checkpoint
  // NOTE: standard training (no attack randomness), SGD with momentum: the ranks average 8-row gradients where
  // one process takes a 16-row mean, float32 summation order only, ~1e-7 relative per step (test/dist/ddp.test.ts)
  const d = maxDiff(join(dir, 't1', 'model.safetensors'), join(dir, 't2', 'model.safetensors'));
  assert.ok(d <= 1e-6, `max |1 process - (2 ranks, then resumed on 1)| = ${d}`);
  const losses = (out: string): number[] =>
    readFileSync(join(dir, out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { loss: number }).loss);
  const [l1, l2] = [losses('t1'), losses('t2')];
  assert.equal(l2.length, 2);
  // NOTE: epoch mean losses, float64 sums of float32 batch losses: agree to ~1e-7 relative
  l1.forEach((l, i) => assert.ok(Math.abs(l - (l2[i] as number)) < 1e-5, `epoch ${i + 1} loss ${l} vs ${l2[i]}`));
});
