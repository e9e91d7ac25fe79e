// Analytic check on linear models (attacks.md §10.2): for f(x) = Wx + b with the
// box never binding, the minimal Linf (L2) perturbation is
// r(x) = min_{j≠y} (z_y − z_j) / ‖w_y − w_j‖₁ (‖·‖₂), so the true robust accuracy
// is the fraction with r(x) > eps. No attack may beat it; with K = 2 PGD-CE and
// APGD-CE (Linf) attain it exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, keep, manualSeed, rand, randn, tidy } from '../../src/tensor/index.js';
import { ATTACKS, attackNames, createAttack } from '../../src/attacks/registry.js';
import type { Norm } from '../../src/attacks/types.js';
import { linearModel } from './models.js';

const N = 400;
const D = 25; // as [1, 5, 5]

interface Setup {
  W: Tensor;
  b: Tensor;
  X: Tensor;
  Y: Tensor;
  r: Record<'Linf' | 'L2', number[]>;
}

/** K classes, boundaries through the centre 0.5; points in [0.3, 0.7]; labels = clean predictions. */
function setup(K: number, seed: number): Setup {
  manualSeed(seed);
  const W = keep(randn([K, D], 'float64'));
  const b = keep(W.matmul(rand([D], 'float64').mul(0.1).add(0.45)).neg());
  const X = keep(rand([N, 1, 5, 5], 'float64').mul(0.4).add(0.3));
  const z = tidy(() => X.reshape(N, D).linear(W, b));
  const Y = keep(z.argmax(1));
  const zs = z.toArray();
  const ys = Y.toArray();
  const w = W.toArray();
  const dual = { Linf: 1, L2: 2 } as const;
  const r = { Linf: [] as number[], L2: [] as number[] };
  for (const n of ['Linf', 'L2'] as const)
    for (let i = 0; i < N; i++) {
      const y = ys[i]!;
      let best = Infinity;
      for (let j = 0; j < K; j++) {
        if (j === y) continue;
        let nrm = 0;
        for (let k = 0; k < D; k++) nrm += Math.abs(w[y * D + k]! - w[j * D + k]!) ** dual[n];
        best = Math.min(best, (zs[i * K + y]! - zs[i * K + j]!) / nrm ** (1 / dual[n]));
      }
      r[n].push(best);
    }
  z.dispose();
  return { W, b, X, Y, r };
}

/** eps halfway between the 200th and 201st smallest r: exact robust accuracy 50 %. */
function medianEps(r: number[]): { eps: number; gap: number } {
  const s = r.slice().sort((a, c) => a - c);
  return { eps: (s[N / 2 - 1]! + s[N / 2]!) / 2, gap: s[N / 2]! - s[N / 2 - 1]! };
}

function robustAcc(name: string, s: Setup, norm: Norm, eps: number): number {
  const res = createAttack(name, { eps, norm, nIter: 100, steps: 20 }).attack(linearModel(s.W, s.b), s.X, s.Y);
  res.xAdv.dispose();
  return res.success.filter((f) => !f).length / N;
}

test('K = 2: PGD-CE and APGD-CE (Linf) attain the exact robust accuracy', () => {
  const s = setup(2, 11);
  const { eps, gap } = medianEps(s.r.Linf);
  assert.ok(eps < 0.2 && gap > 1e-6, `eps ${eps} keeps the box inactive, gap ${gap}`);
  for (const name of ['pgd', 'apgd-ce']) assert.equal(robustAcc(name, s, 'Linf', eps), 0.5, name);
});

for (const K of [2, 5])
  test(`K = ${K}: no attack beats the truth (Linf, L2)`, () => {
    const s = setup(K, 20 + K);
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
  const s = setup(5, 25);
  assert.equal(robustAcc('apgd-t', s, 'Linf', medianEps(s.r.Linf).eps), 0.5);
});
