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

test('paired difference: hand-worked Newcombe method 10 and the degenerate cases', async () => {
  const { pairedDifference } = await import('../../src/eval/stats.js');
  const pairs = (e: number, f: number, g: number, h: number): [boolean[], boolean[]] => {
    const a: boolean[] = [];
    const b: boolean[] = [];
    for (const [k, ai, bi] of [
      [e, true, true],
      [f, true, false],
      [g, false, true],
      [h, false, false],
    ] as const)
      for (let i = 0; i < k; i++) {
        a.push(ai);
        b.push(bi);
      }
    return [a, b];
  };
  // e 8, f 3, g 1, h 0 (n 12): p1 11/12, p2 9/12; Wilson(11, 12) = [0.64611, 0.98513],
  // Wilson(9, 12) = [0.46769, 0.91108]; A = 11·1·9·3 = 297, B = 0 - 3 = -3 -> C = -3,
  // phi = -3/sqrt(297) = -0.17408; delta = sqrt(0.27056² + 2·0.17408·0.27056·0.16108 + 0.16108²) = 0.33812,
  // eps = sqrt(0.06846² + 2·0.17408·0.06846·0.28231 + 0.28231²) = 0.30185 -> [-0.17145, 0.46852]
  const d = pairedDifference(...pairs(8, 3, 1, 0));
  assert.ok(Math.abs(d.difference - 1 / 6) < 1e-12);
  assert.ok(Math.abs(d.ci95.lo + 0.17145) < 2e-4 && Math.abs(d.ci95.hi - 0.46852) < 2e-4, JSON.stringify(d));
  assert.deepEqual([d.aOnly, d.bOnly, d.total], [3, 1, 12]);
  // identical predictions: difference exactly 0 and an interval around it
  const same = pairedDifference(...pairs(30, 0, 0, 20));
  assert.equal(same.difference, 0);
  assert.ok(same.ci95.lo < 0 && same.ci95.hi > 0 && same.ci95.hi < 0.1, JSON.stringify(same));
  assert.throws(() => pairedDifference([true], [true, false]), /equal/);
});

test('paired difference: the 95% interval covers the true difference in about 95% of simulated studies', async () => {
  const { pairedDifference } = await import('../../src/eval/stats.js');
  // PCG-free LCG so the test is deterministic; pairs with P(a) = 0.8, P(b) = 0.7, correlated
  let s = 12345;
  const u = (): number => ((s = (1103515245 * s + 12345) % 2 ** 31), s / 2 ** 31);
  let covered = 0;
  const studies = 2000;
  for (let t = 0; t < studies; t++) {
    const a: boolean[] = [];
    const b: boolean[] = [];
    for (let i = 0; i < 100; i++) {
      const v = u();
      const ai = v < 0.8;
      a.push(ai);
      b.push(ai ? u() < 0.8 : u() < 0.3); // P(b) = 0.8·0.8 + 0.2·0.3 = 0.7
    }
    const d = pairedDifference(a, b);
    if (d.ci95.lo <= 0.1 && 0.1 <= d.ci95.hi) covered++;
  }
  assert.ok(covered / studies > 0.93 && covered / studies < 0.98, `coverage ${covered / studies}`);
});
