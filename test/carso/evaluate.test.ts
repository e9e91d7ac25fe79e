// `evaluateCarso` on the tiny CARSO: every stage of both protocols runs and lands
// in eval.json with the verdict first, an evaluation interrupted inside the
// honest AutoAttack-rand cascade resumes to the same result as an uninterrupted
// one, the paper protocol reports one draw under the reference aggregation and no
// diagnostics, stages are shared between protocols and reused only with the same
// weights, and on a CARSO whose reference aggregation saturates the verdict shows
// the masking (NaN outputs, attacks stopped, never moved).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateCarso, type CarsoEvalOptions } from '../../src/carso/index.js';
import { entryLabel, type EvalResult } from '../../src/eval/result.js';
import { keep, manualSeed, rand, randint } from '../../src/tensor/index.js';
import type { Carso } from '../../src/carso/index.js';
import { SATURATED_EVAL, TINY_CLASSES, TINY_EVAL, saturateTiny, tinyEvalCarso, withoutTimings } from './tiny.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-eval-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

manualSeed(5);
const x = keep(rand([6, 1, 12, 12]));
const y = keep(randint(0, TINY_CLASSES, [6]));

function run(out: string, o: Partial<CarsoEvalOptions> = {}, prepare: (c: Carso) => void = () => {}): EvalResult {
  // NOTE: a narrow decoder and small attack budgets keep this test to seconds; the stages are the same
  const carso = tinyEvalCarso();
  prepare(carso);
  try {
    const r = evaluateCarso(carso.classifier, carso, x, y, { ...TINY_EVAL, out, ...o });
    assert.equal(carso.aggregation, 'peel', "the honest aggregation is restored after the paper's stages");
    return r;
  } finally {
    carso.dispose();
    carso.classifier.dispose();
  }
}
// NOTE: timings and resume flags differ between runs; everything else must not
const numbers = withoutTimings;

const labels = (r: EvalResult): string[] => r.entries.map((e) => entryLabel(e));

test('both protocols: all stages, verdict, worst-of-R <= single, diagnostics, grid; interrupted + resumed = uninterrupted', () => {
  const whole = run(join(dir, 'whole'));
  assert.deepEqual(whole.protocols, ['paper', 'honest']);
  assert.deepEqual(labels(whole), [
    'classifier clean',
    'classifier autoattack-standard',
    'carso clean (paper)',
    'carso autoattack-rand (paper)',
    'carso clean (honest)',
    'carso autoattack-rand (honest)',
    'carso pgd-eot (honest)',
    'carso eps-0.95 (honest)',
    'carso transfer-from-classifier-aa (honest)',
  ]);
  for (const e of whole.entries.filter((e) => e.stochastic)) {
    const R = e.protocol === 'paper' ? 1 : 4;
    assert.equal(e.stochastic!.draws, R);
    assert.ok(e.stochastic!.worstOfR.correct <= e.stochastic!.single.correct, e.attack);
    assert.deepEqual(e.accuracy, e.protocol === 'paper' ? e.stochastic!.single : e.stochastic!.worstOfR);
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
  assert.equal(whole.comparisons.length, 4);
  // the verdict: one row per evaluation, from the entries' own numbers
  assert.deepEqual(
    whole.verdict.map((v) => [v.id, v.entry]),
    [
      ['classifier', 'classifier autoattack-standard'],
      ['carso-paper', 'carso autoattack-rand (paper)'],
      ['carso-honest', 'carso autoattack-rand (honest)'],
    ],
  );
  for (const v of whole.verdict) {
    const e = whole.entries.find((x) => entryLabel(x) === v.entry)!;
    assert.deepEqual(v.accuracy, e.accuracy);
    assert.equal(v.evidence.n, 6);
    assert.equal(v.evidence.attacked, e.evidence!.moved!.filter((m) => m !== null).length);
    assert.ok(v.evidence.outputNonFinite !== null && v.evidence.gradientCe !== null && v.evidence.gradientDlr !== null);
  }
  assert.equal(whole.verdict[0]!.vsClassifier, null);
  assert.equal(whole.verdict[2]!.vsClassifier!.total, 6);
  const saved = JSON.parse(readFileSync(join(dir, 'whole', 'eval.json'), 'utf8')) as EvalResult;
  assert.deepEqual(numbers(saved), numbers(whole));
  const grid = JSON.parse(readFileSync(join(dir, 'whole', 'grid.json'), 'utf8')) as {
    points: { clean: number[]; reconstructions: number[][] }[];
  };
  assert.equal(grid.points.length, 2);
  assert.equal(grid.points[0]!.clean.length, 144);
  assert.equal(grid.points[0]!.reconstructions.length, 3);

  // interrupt inside the honest AA-rand cascade (after its first APGD-DLR batch is saved), then rerun
  const out = join(dir, 'cut');
  let stage = '';
  assert.throws(
    () =>
      run(out, {
        onStage: (name) => (stage = name),
        onEvent: (e) => {
          if (stage === 'carso-aa-rand' && e.kind === 'batch' && e.name === 'apgd-dlr') throw new Error('interrupted');
        },
      }),
    /interrupted/,
  );
  const reloaded: string[] = [];
  const resumed = run(out, { onStage: (name, r) => r && reloaded.push(name) });
  assert.deepEqual(reloaded, ['classifier-clean', 'classifier-aa', 'paper-carso-clean', 'paper-carso-aa-rand', 'carso-clean']);
  assert.deepEqual(numbers(resumed), numbers(whole));
});

test('paper protocol: one draw under the reference aggregation, no diagnostics; its stages are its own', () => {
  const r = run(join(dir, 'paper'), { protocols: ['paper'] });
  assert.deepEqual(r.protocols, ['paper']);
  assert.equal(r.settings['paperAggregation'], 'peel-reference');
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(labels(r), [
    'classifier clean',
    'classifier autoattack-standard',
    'carso clean (paper)',
    'carso autoattack-rand (paper)',
  ]);
  for (const e of r.entries.filter((e) => e.stochastic)) assert.deepEqual(e.accuracy, e.stochastic!.single);
  assert.deepEqual(
    r.verdict.map((v) => v.id),
    ['classifier', 'carso-paper'],
  );
});

test('stages are shared across protocol choices and reused only with the same weights', () => {
  const out = join(dir, 'weights');
  const skip = ['carso-pgd-eot', 'carso-high-eps', 'carso-transfer', 'carso-square', 'carso-eot-convergence', 'carso-gradients'];
  run(out, { protocols: ['honest'], skip, weights: { classifier: 'c1', purifier: 'p1' } });
  const reloaded: string[] = [];
  const both = run(out, { skip, weights: { classifier: 'c1', purifier: 'p1' }, onStage: (n, r) => r && reloaded.push(n) });
  assert.deepEqual(reloaded, ['classifier-clean', 'classifier-aa', 'carso-clean', 'carso-aa-rand']);
  assert.equal(both.verdict.length, 3);
  reloaded.length = 0;
  run(out, {
    protocols: ['paper'],
    skip,
    weights: { classifier: 'c1', purifier: 'p2' },
    onStage: (n, r) => r && reloaded.push(n),
  });
  assert.deepEqual(reloaded, ['classifier-clean', 'classifier-aa']);
});

test('a stage whose input is skipped, an unknown stage or protocol: an error before any work', () => {
  const out = join(dir, 'bad');
  assert.throws(() => run(out, { skip: ['classifier-aa'] }), /stage carso-transfer needs classifier-aa/);
  assert.throws(() => run(out, { skip: ['carso-nope'] }), /unknown stage\(s\) carso-nope/);
  assert.throws(() => run(out, { protocols: [] }), /protocols must be some of paper, honest/);
});

test("a CARSO whose reference aggregation saturates: the paper row's points are NaN, stopped, never moved", () => {
  const r = run(join(dir, 'saturated'), SATURATED_EVAL, saturateTiny);
  const [, paper, honest] = r.verdict;
  assert.equal(paper!.id, 'carso-paper');
  const ev = paper!.evidence;
  assert.equal(ev.outputNonFinite, 6, 'every clean output saturates');
  assert.equal(ev.gradientCe, 6);
  assert.ok(ev.attacked > 0 && ev.stopped === ev.attacked, `${ev.stopped} of ${ev.attacked} attacked points stopped`);
  assert.equal(ev.meanMoved, 0);
  assert.equal(paper!.accuracy.correct, ev.attacked, 'the original counts every attacked point robust');
  assert.equal(honest!.evidence.outputNonFinite, 0);
  assert.equal(honest!.evidence.stopped, 0);
  assert.ok(honest!.evidence.meanMoved! > 0);
  assert.deepEqual(
    r.warnings.filter((w) => w.check === 'nan-gradients'),
    [],
    'the paper protocol raises no NaN warning (fra31 prints none), the honest one has no NaN',
  );
});
