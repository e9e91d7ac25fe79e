// fra31's sanity checks (checks.ts, attacks.md §7.5): each fires on the case it
// exists for and stays quiet otherwise; a fired check is printed and lands in
// the result. Plus the threat-model re-check (checkAdversarial).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Model } from '../../src/attacks/index.js';
import {
  checkAdversarial,
  checkNClasses,
  checkRandomized,
  checkRangeOutput,
  checkSquareSr,
  checkZeroGradients,
  startGradient,
} from '../../src/eval/checks.js';
import { runAutoAttack } from '../../src/eval/autoattack.js';
import { tensor, tidy } from '../../src/tensor/index.js';
import { net, noisy, points, quiet } from './fixtures.js';

const model = net();
const { X, Y } = points(model, 16);

test('randomized: quiet for a deterministic model, fires when outputs or correct counts change between calls', () => {
  assert.equal(checkRandomized(model, X, Y), null);
  const w = checkRandomized(noisy(model, 0.01), X, Y);
  assert.equal(w?.check, 'randomized');
  assert.match(w!.message, /randomised defence; use version 'rand'/);
  // tiny noise below alpha = 1e-4 in normalised logits: quiet, as fra31
  assert.equal(checkRandomized(noisy(model, 1e-9), X, Y), null);
});

test('range-output: fires on softmax outputs, quiet on logits; gives K', () => {
  const softmax: Model = { stochastic: false, forward: (x) => model.forward(x).softmax(1) };
  const a = checkRangeOutput(softmax, X);
  assert.equal(a.K, 5);
  assert.equal(a.warning?.check, 'range-output');
  assert.match(a.warning!.message, /need the logits/);
  const b = checkRangeOutput(model, X);
  assert.deepEqual(b, { K: 5, warning: null });
  // log-softmax is fine (rows do not sum to 1)
  assert.equal(checkRangeOutput({ stochastic: false, forward: (x) => model.forward(x).logSoftmax(1) }, X).warning, null);
});

test('zero-gradients: fires on a quantising model (masked gradient), quiet on the plain net', () =>
  tidy(() => {
    const Yc = model.forward(X).argmax(1); // clean-correct points, as the cascade passes
    const g = startGradient(model, X, Yc, 5).grad;
    assert.equal(checkZeroGradients(g), null);
    const oneRow = g.mul(
      tensor(
        Array.from({ length: 16 }, (_, i) => (i === 3 ? 0 : 1)),
        [16, 1, 1, 1],
      ),
    );
    assert.match(checkZeroGradients(oneRow)!.message, /^1 of 16 points have an all-zero input gradient/);
    // a NaN gradient (zeroed by lossAndGrad, flagged) is not a zero one: fra31 sums |g| = NaN there, NaN != 0
    const flagged = Array.from({ length: 16 }, (_, i) => i === 3);
    assert.equal(checkZeroGradients(oneRow, flagged), null);
    // x -> round(4x)/4 before the net: piecewise constant, the input gradient is exactly zero
    const quantised: Model = { stochastic: false, forward: (x) => model.forward(x.mul(4).round().div(4)) };
    const w = checkZeroGradients(startGradient(quantised, X, Yc, 5).grad);
    assert.equal(w?.check, 'zero-gradients');
    assert.match(w!.message, /^16 of 16 points .*use BPDA/);
  }));

test('n-classes: fires for too few classes for DLR / targeted DLR / the target count, quiet otherwise', () => {
  assert.equal(checkNClasses(10, ['apgd-ce', 'apgd-t', 'fab-t', 'square'], 9, 9), null);
  assert.equal(checkNClasses(2, ['apgd-ce', 'fab', 'square'], 9, 9), null, 'no DLR attack, no targets');
  assert.match(checkNClasses(2, ['apgd-dlr'], 9, 9)!.message, /only 2 classes the DLR loss is impossible/);
  assert.match(checkNClasses(3, ['apgd-t'], 2, 9)!.message, /only 3 classes the targeted DLR loss is impossible/);
  const w = checkNClasses(5, ['apgd-ce', 'apgd-t', 'fab-t', 'square'], 9, 9);
  assert.equal(w?.check, 'n-classes');
  assert.match(
    w!.message,
    /APGD-T uses more target classes \(9\) than possible \(4\); FAB-T uses more target classes \(9\) than possible \(4\)/,
  );
  assert.equal(checkNClasses(5, ['apgd-t', 'fab-t'], 4, 4), null);
});

test('square-sr: fires when Square beats the white-box attacks by more than 0.2 points, quiet otherwise', () => {
  assert.equal(checkSquareSr({ clean: 0.9, 'apgd-ce': 0.5, square: 0.499 }), null, 'within alpha');
  assert.equal(checkSquareSr({ clean: 0.9, square: 0.1 }), null, 'Square alone');
  assert.equal(checkSquareSr({ clean: 0.9, 'apgd-ce': 0.5 }), null, 'no Square');
  const w = checkSquareSr({ clean: 0.9, 'apgd-ce': 0.5, 'apgd-t': 0.48, square: 0.4 });
  assert.equal(w?.check, 'square-sr');
  assert.match(w!.message, /^Square lowered the robust accuracy by 8\.00 points/);
});

test('threat-model re-check: in-ball ok (float32 rounding of x ± eps allowed), out of ball / box / NaN rejected', () =>
  tidy(() => {
    const x = tensor([0.3, 0.9, 0.5, 0.5, 0.2, 0.2, 0.7, 0.1], [4, 2]);
    const eps = 8 / 255;
    // row 0: x + eps rounded in float32; row 1: eps + 1e-3 away; row 2: above 1; row 3: NaN
    const adv = tensor([0.3 + eps, 0.9 - eps, 0.5 + eps + 1e-3, 0.5, 0.2, 1.0001, NaN, 0.1], [4, 2]);
    const c = checkAdversarial(x, adv, 'Linf', eps);
    assert.deepEqual(c.ok, [true, false, false, false]);
    assert.ok(c.tolerance < 1e-6);
    const l2 = checkAdversarial(x, tensor([0.3, 0.9, 0.5 + 0.6, 0.5, 0.2, 0.2, 0.7, 0.1], [4, 2]).clamp(0, 1), 'L2', 0.5);
    assert.deepEqual(l2.ok, [true, true, true, true], 'clamped to the box: 0.5 away in L2');
    // +0.3 on both pixels: L1 0.6, except row 0 where the box stops 0.9 at 1 (L1 0.4)
    assert.deepEqual(checkAdversarial(x, x.add(0.3).clamp(0, 1), 'L1', 0.5).ok, [true, false, false, false]);
  }));

test('a fired check is printed (process warning by default) and lands in the result', async () => {
  const softmax: Model = { stochastic: false, forward: (x) => model.forward(x).softmax(1) };
  const printed = once(process, 'warning');
  const r = runAutoAttack(softmax, X, Y, { norm: 'Linf', eps: 0.01, version: 'custom', attacks: ['fgsm'] });
  const [w] = (await printed) as [Error];
  assert.equal(w.name, 'CarsoAutoAttackWarning');
  assert.match(w.message, /probability distribution/);
  assert.ok(r.warnings.some((v) => v.check === 'range-output'));
  r.xAdv.dispose();
  const q = runAutoAttack(model, X, Y, { norm: 'Linf', eps: 0.01, version: 'custom', attacks: ['fgsm'], ...quiet });
  assert.deepEqual(q.warnings, [], 'a plain net fires nothing');
  q.xAdv.dispose();
});
