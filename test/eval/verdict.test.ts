// The verdict (verdict.ts) and its per-point evidence (evidence.ts): rows from
// the entries, counts and means worked by hand, the paired difference to the
// classifier; the evidence of a model built to have NaN outputs on some points
// and zero gradients on others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model } from '../../src/attacks/index.js';
import { cleanEvidence, outputNonFinite } from '../../src/eval/evidence.js';
import type { EvalEntry } from '../../src/eval/result.js';
import { countWithInterval, pairedDifference } from '../../src/eval/stats.js';
import { verdictOf, verdictText } from '../../src/eval/verdict.js';
import { keep, tensor } from '../../src/tensor/index.js';

const entry = (e: Omit<EvalEntry, 'accuracy' | 'seconds' | 'eps'>): EvalEntry => ({
  ...e,
  eps: 0.1,
  accuracy: countWithInterval(e.points!.filter(Boolean).length, e.points!.length),
  seconds: 1,
});

test('verdictOf: a row per present evaluation, evidence counted from the clean and the attacked entry', () => {
  const clf = [true, true, false, true];
  const paper = [true, true, true, false];
  const entries = [
    entry({
      model: 'classifier',
      attack: 'clean',
      points: [true, true, true, true],
      evidence: { outputNonFinite: [false, false, false, false] },
    }),
    entry({ model: 'classifier', attack: 'autoattack-standard', points: clf, evidence: { moved: [0.25, 0.125, 0.375, null] } }),
    entry({
      model: 'carso',
      protocol: 'paper',
      attack: 'clean',
      points: [true, true, true, false],
      evidence: {
        outputNonFinite: [true, true, false, true],
        gradientCe: [true, true, true, true],
        gradientDlr: [true, true, false, true],
      },
    }),
    entry({
      model: 'carso',
      protocol: 'paper',
      attack: 'autoattack-rand',
      points: paper,
      evidence: {
        attackNonFinite: [true, true, false, false],
        stopped: ['non-finite-gradients', 'non-finite-gradients', null, null],
        moved: [0, 0, 0.375, null],
      },
    }),
  ];
  const v = verdictOf(entries);
  assert.deepEqual(
    v.map((r) => r.id),
    ['classifier', 'carso-paper'],
    'no honest entries: no honest row',
  );
  assert.equal(v[0]!.vsClassifier, null);
  assert.deepEqual(v[0]!.evidence, {
    n: 4,
    outputNonFinite: 0,
    gradientCe: null,
    gradientDlr: null,
    attacked: 3,
    attackNonFinite: null,
    stopped: null,
    meanMoved: 0.25, // (0.25 + 0.125 + 0.375) / 3, exact in binary
  });
  assert.deepEqual(v[1]!.accuracy, countWithInterval(3, 4));
  assert.deepEqual(v[1]!.vsClassifier, pairedDifference(paper, clf));
  assert.deepEqual(v[1]!.evidence, {
    n: 4,
    outputNonFinite: 3,
    gradientCe: 4,
    gradientDlr: 3,
    attacked: 3,
    attackNonFinite: 2,
    stopped: 2,
    meanMoved: 0.125, // (0 + 0 + 0.375) / 3
  });
  const text = verdictText(v).split('\n');
  assert.equal(text.length, 3);
  assert.match(
    text[2]!,
    /^CARSO as the paper evaluates it +3\/4 75\.0% \[30\.1, 95\.4\] +\+0\.0 pts \[-55\.2, 55\.2\] +3\/4 +4\/4, 3\/4 +2\/3 +0\.1250$/,
  );
});

test('evidence: NaN outputs, and NaN or zero input gradients, per point', () => {
  // logits (x0, x1 - 0.5, 0) / (x0 - 0.2): +-inf where x0 = 0.2, a zero x1-gradient... per point:
  //   point 0: x0 = 0.2 -> division by 0: +-inf / NaN outputs and gradients
  //   point 1: x0 = 0.7: finite output and gradients
  //   point 2: round(x) before the net: a zero gradient everywhere
  const W = keep(tensor([1, 0, 0, 1, 0, 0], [3, 2]));
  const model: Model = {
    stochastic: false,
    forward: (x) => {
      const f = x.flatten(1);
      const q = f.select(1, 1).gt(0.9).view(-1, 1); // point 2 is marked by x1 = 1: quantise it
      const g = f.mul(q.logicalNot()).add(f.round().mul(q));
      return g
        .linear(W)
        .add(tensor([0, -0.5, 0], [3]))
        .div(g.select(1, 0).sub(0.2).view(-1, 1));
    },
  };
  const x = keep(tensor([0.2, 0.3, 0.7, 0.4, 0.6, 1], [3, 2]));
  const y = keep(tensor([0, 0, 1], [3], 'int64'));
  assert.deepEqual(outputNonFinite(model, x, 2), [true, false, false]);
  const ev = cleanEvidence(model, x, y, 3, 2);
  assert.deepEqual(ev.gradientCe, [true, false, true]);
  assert.deepEqual(ev.gradientDlr, [true, false, true]);
  assert.equal(cleanEvidence(model, x, y, 2, 3).gradientDlr, undefined, 'no DLR with 2 classes');
});
