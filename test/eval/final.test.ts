// Worst-of-R / single-draw / mean-over-R on a toy stochastic model with a
// known flip probability, and Wilson intervals against hand-worked values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Model } from '../../src/attacks/index.js';
import { finalEvaluation } from '../../src/eval/final.js';
import { wilson } from '../../src/eval/stats.js';
import { keep, manualSeed, op, rand, tensor, tidy } from '../../src/tensor/index.js';

const REMAINDER = op('remainder', 'Scalar');

test('Wilson 95% intervals match hand-worked values', () => {
  // 8/10: p = 0.8, z² = 3.8415; centre 0.99207/1.38415 = 0.71674, half 1.41601 · sqrt(0.016 + 0.0096) = 0.22658
  const a = wilson(8, 10);
  assert.ok(Math.abs(a.lo - 0.49016) < 1e-4 && Math.abs(a.hi - 0.94331) < 1e-4, JSON.stringify(a));
  const b = wilson(0, 10); // [0, 2·0.19207/1.38415 = 0.27753]
  assert.ok(b.lo === 0 && Math.abs(b.hi - 0.27753) < 1e-4, JSON.stringify(b));
  const c = wilson(10, 10);
  assert.ok(Math.abs(c.lo - 0.72247) < 1e-4 && c.hi === 1, JSON.stringify(c));
  assert.throws(() => wilson(3, 2), /0 <= k <= n/);
});

const K = 10;
/** Predicts the label stored in pixel 0 (label / 10), flipped to the next class with probability p per call. */
function flipper(p: number): Model {
  return {
    stochastic: true,
    forward: (x) =>
      tidy(() => {
        const label = x.flatten(1).select(1, 0).mul(K).round().long();
        const flip = rand([x.size(0)])
          .lt(p)
          .long();
        return REMAINDER.t(label.add(flip), K).oneHot(K).float();
      }),
  };
}

test('worst-of-R matches (1-p)^R and single-draw 1-p within their intervals', () => {
  manualSeed(7);
  const n = 2000;
  const labels = Array.from({ length: n }, (_, i) => i % K);
  const x = keep(
    tensor(
      labels.map((l) => l / K),
      [n, 1, 1, 1],
    ),
  );
  const y = keep(tensor(labels, [n], 'int64'));
  for (const [p, R] of [
    [0.1, 10],
    [0.3, 3],
  ] as const) {
    const r = finalEvaluation(flipper(p), x, y, R);
    const inside = (v: number, ci: { lo: number; hi: number }): boolean => v >= ci.lo && v <= ci.hi;
    assert.ok(inside((1 - p) ** R, r.worstOfR.ci95), `p=${p} R=${R}: worst-of-R ${r.worstOfR.accuracy} vs ${(1 - p) ** R}`);
    assert.ok(inside(1 - p, r.single.ci95), `p=${p}: single draw ${r.single.accuracy} vs ${1 - p}`);
    assert.ok(Math.abs(r.meanOverR.accuracy - (1 - p)) < 0.02, `p=${p}: mean over R ${r.meanOverR.accuracy}`);
    assert.ok(r.worstOfR.correct <= r.single.correct);
  }
  x.dispose();
  y.dispose();
});

test('a deterministic model gives the same number three ways', () => {
  const x = tensor([0, 0.1, 0.2, 0.3], [4, 1, 1, 1]);
  const y = tensor([0, 1, 2, 0], [4], 'int64');
  const r = finalEvaluation(flipper(0), x, y, 5);
  assert.equal(r.single.correct, 3);
  assert.equal(r.worstOfR.correct, 3);
  assert.equal(r.meanOverR.accuracy, 0.75);
  assert.throws(() => finalEvaluation(flipper(0), x, y, 0), /draws must be an integer >= 1/);
});
