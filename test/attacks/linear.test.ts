// Analytic check on linear models (attacks.md §10.2): for f(x) = Wx + b with the
// box never binding, the minimal Linf (L2) perturbation is
// r(x) = min_{j≠y} (z_y − z_j) / ‖w_y − w_j‖₁ (‖·‖₂), so the true robust accuracy
// is the fraction with r(x) > eps. No attack may beat it; with K = 2 PGD-CE and
// APGD-CE (Linf) attain it exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATTACKS, attackNames, createAttack } from '../../src/attacks/registry.js';
import type { Norm } from '../../src/attacks/types.js';
import { linearProblem, medianEps, type LinearProblem } from './models.js';

const N = 400;

function robustAcc(name: string, s: LinearProblem, norm: Norm, eps: number): number {
  const res = createAttack(name, { eps, norm, nIter: 100, steps: 20 }).attack(s.model, s.X, s.Y);
  res.xAdv.dispose();
  return res.success.filter((f) => !f).length / N;
}

test('K = 2: PGD-CE and APGD-CE (Linf) attain the exact robust accuracy', () => {
  const s = linearProblem(2, N, 11);
  const { eps, gap } = medianEps(s.r.Linf);
  assert.ok(eps < 0.2 && gap > 1e-6, `eps ${eps} keeps the box inactive, gap ${gap}`);
  for (const name of ['pgd', 'apgd-ce']) assert.equal(robustAcc(name, s, 'Linf', eps), 0.5, name);
});

for (const K of [2, 5])
  test(`K = ${K}: no attack beats the truth (Linf, L2)`, () => {
    const s = linearProblem(K, N, 20 + K);
    for (const norm of ['Linf', 'L2'] as const) {
      const { eps } = medianEps(s.r[norm]);
      for (const name of attackNames()) {
        if (ATTACKS[name]!.minClasses > K || !ATTACKS[name]!.norms.includes(norm)) continue;
        const acc = robustAcc(name, s, norm, eps);
        assert.ok(acc >= 0.5, `${name} ${norm}: robust accuracy ${acc} below the exact 0.5`);
      }
    }
  });

test('K = 5: APGD-T (all targets) attains the exact robust accuracy (Linf)', () => {
  const s = linearProblem(5, N, 25);
  assert.equal(robustAcc('apgd-t', s, 'Linf', medianEps(s.r.Linf).eps), 0.5);
});
