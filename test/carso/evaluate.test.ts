// `evaluateCarso` on the tiny CARSO: every stage runs and lands in eval.json,
// an evaluation interrupted inside the AutoAttack-rand cascade resumes to the
// same result as an uninterrupted one, and the reference protocol reports one
// draw and no diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateCarso, type CarsoEvalOptions } from '../../src/carso/index.js';
import type { EvalResult } from '../../src/eval/result.js';
import { keep, manualSeed, rand, randint } from '../../src/tensor/index.js';
import { TINY_CLASSES, TINY_EVAL, tinyEvalCarso, withoutTimings } from './tiny.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-eval-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

manualSeed(5);
const x = keep(rand([6, 1, 12, 12]));
const y = keep(randint(0, TINY_CLASSES, [6]));

function run(out: string, o: Partial<CarsoEvalOptions> = {}): EvalResult {
  // NOTE: a narrow decoder and small attack budgets keep this test to seconds; the stages are the same
  const carso = tinyEvalCarso();
  try {
    return evaluateCarso(carso.classifier, carso, x, y, { ...TINY_EVAL, out, ...o });
  } finally {
    carso.dispose();
    carso.classifier.dispose();
  }
}
// NOTE: timings and resume flags differ between runs; everything else must not
const numbers = withoutTimings;

test('strict evaluation: all stages, worst-of-R <= single, diagnostics, grid; interrupted + resumed = uninterrupted', () => {
  const whole = run(join(dir, 'whole'));
  assert.deepEqual(
    whole.entries.map((e) => `${e.model} ${e.attack}`),
    [
      'classifier clean',
      'classifier autoattack-standard',
      'carso clean',
      'carso autoattack-rand',
      'carso pgd-eot',
      'carso eps-0.95',
      'carso transfer-from-classifier-aa',
    ],
  );
  for (const e of whole.entries.filter((e) => e.stochastic)) {
    assert.equal(e.stochastic!.draws, 4);
    assert.ok(e.stochastic!.worstOfR.correct <= e.stochastic!.single.correct, e.attack);
    assert.deepEqual(e.accuracy, e.stochastic!.worstOfR);
  }
  assert.equal(whole.entries.find((e) => e.attack === 'pgd-eot')!.accuracy.total, 3);
  assert.deepEqual(whole.diagnostics.map((d) => d.check).sort(), [
    'black-box-beats-white-box',
    'eot-not-converged',
    'high-eps-not-zero',
    'loss-not-increasing',
    'transfer-stronger-than-adaptive',
    'zero-or-nan-gradients',
  ]);
  assert.equal(whole.eotConvergence!.accuracy.length, 4);
  assert.equal(whole.comparisons.length, 2);
  const saved = JSON.parse(readFileSync(join(dir, 'whole', 'eval.json'), 'utf8')) as EvalResult;
  assert.deepEqual(numbers(saved), numbers(whole));
  const grid = JSON.parse(readFileSync(join(dir, 'whole', 'grid.json'), 'utf8')) as {
    points: { clean: number[]; reconstructions: number[][] }[];
  };
  assert.equal(grid.points.length, 2);
  assert.equal(grid.points[0]!.clean.length, 144);
  assert.equal(grid.points[0]!.reconstructions.length, 3);

  // interrupt inside the AA-rand cascade (after its first batch is saved), then rerun
  const out = join(dir, 'cut');
  let batches = 0;
  assert.throws(
    () =>
      run(out, {
        onStage: () => {},
        onEvent: (e) => {
          if (e.kind === 'batch' && e.name === 'apgd-dlr' && ++batches === 1) throw new Error('interrupted');
        },
      }),
    /interrupted/,
  );
  const reloaded: string[] = [];
  const resumed = run(out, { onStage: (name, r) => r && reloaded.push(name) });
  assert.deepEqual(reloaded, ['classifier-clean', 'classifier-aa', 'carso-clean']);
  assert.deepEqual(numbers(resumed), numbers(whole));
});

test('reference protocol: one draw, no diagnostics or comparisons', () => {
  const r = run(join(dir, 'ref'), { protocol: 'reference', skip: ['carso-pgd-eot'] });
  assert.equal(r.finalEvals, 1);
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.comparisons, []);
  for (const e of r.entries.filter((e) => e.stochastic)) assert.deepEqual(e.accuracy, e.stochastic!.single);
  assert.ok(!r.entries.some((e) => e.attack === 'pgd-eot'));
});

test('stages are reused only with the same weights: a new purifier reruns the CARSO stages, not the classifier ones', () => {
  const out = join(dir, 'weights');
  const skip = ['carso-pgd-eot', 'carso-high-eps'];
  run(out, { protocol: 'reference', skip, weights: { classifier: 'c1', purifier: 'p1' } });
  const reloaded: string[] = [];
  run(out, {
    protocol: 'reference',
    skip,
    weights: { classifier: 'c1', purifier: 'p2' },
    onStage: (n, r) => r && reloaded.push(n),
  });
  assert.deepEqual(reloaded, ['classifier-clean', 'classifier-aa']);
});
