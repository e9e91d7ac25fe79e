// Each gradient-masking diagnostic fires on a case built to trigger it and
// stays quiet on a healthy one; the loss-trace check also on real PGD runs
// (a model with gradients, and one whose gradients are masked by rounding).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Linf, ceLoss, pgdRun, type Model } from '../../src/attacks/index.js';
import * as diag from '../../src/eval/diagnostics.js';
import { manualSeed, rand, randint, tidy } from '../../src/tensor/index.js';
import { convNet } from '../attacks/models.js';

test('black box beating white box: fires above 0.2 points, quiet at or below', () => {
  assert.equal(diag.blackBoxBeatsWhiteBox(1, 200).fired, true); // 0.5 points
  assert.equal(diag.blackBoxBeatsWhiteBox(0, 200).fired, false);
  assert.equal(diag.blackBoxBeatsWhiteBox(2, 1000).fired, false); // exactly 0.2 points
  assert.equal(diag.blackBoxBeatsWhiteBox(3, 1000).fired, true);
});

test('high-eps check: fires when accuracy at eps 0.95 stays above 5%', () => {
  assert.equal(diag.highEpsNotZero(11, 200, 0.95).fired, true);
  assert.equal(diag.highEpsNotZero(10, 200, 0.95).fired, false);
  assert.equal(diag.highEpsNotZero(0, 200, 0.95).fired, false);
});

test('zero / NaN gradients: fires on any such point', () => {
  assert.equal(diag.gradientProblems(0, 0, 50).fired, false);
  assert.equal(diag.gradientProblems(1, 0, 50).fired, true);
  assert.equal(diag.gradientProblems(0, 2, 50).fired, true);
});

test('EOT convergence: fires when robust accuracy still falls after EOT 20', () => {
  assert.equal(diag.eotNotConverged([1, 5, 20, 50], [12, 9, 8, 8], 16).fired, false);
  assert.equal(diag.eotNotConverged([1, 5, 20, 50], [12, 9, 8, 6], 16).fired, true);
  assert.throws(() => diag.eotNotConverged([1, 5, 50], [3, 2, 1], 16), /EOT 20/);
});

test('transfer stronger than adaptive: fires when it leaves fewer points robust', () => {
  assert.equal(diag.transferStronger(120, 100, 200).fired, false);
  assert.equal(diag.transferStronger(100, 100, 200).fired, false);
  assert.equal(diag.transferStronger(90, 100, 200).fired, true);
});

test('loss trace: quiet for PGD on a model with gradients, fires when rounding masks them', () => {
  manualSeed(3);
  const net = convNet(4, 2);
  // NOTE: rounding the input to 1/4 steps makes the function piecewise constant: zero gradients
  const masked: Model = { stochastic: false, forward: (x) => net.forward(x.mul(4).round().div(4)) };
  const x = rand([16, 1, 8, 8]);
  const y = randint(0, 4, [16]);
  const trace = (m: Model): number[] =>
    tidy(
      () =>
        pgdRun(m, x, y, { norm: Linf, eps: 0.1, alpha: 0.02, steps: 12, randomStart: false, lossFn: ceLoss, eotIter: 1 })
          .lossTrace,
    );
  const healthy = trace(net);
  assert.equal(healthy.length, 12);
  assert.equal(diag.lossNotIncreasing(healthy).fired, false, JSON.stringify(healthy));
  const flat = trace(masked);
  assert.equal(diag.lossNotIncreasing(flat).fired, true, JSON.stringify(flat));
  assert.throws(() => diag.lossNotIncreasing([1]), /at least 2/);
});
