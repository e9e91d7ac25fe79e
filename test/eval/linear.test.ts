// Analytic check (attacks.md §10.2): for a linear model f(x) = Wx + b with the
// box never binding, the minimal Linf perturbation of x is
// r(x) = min_{j≠y} (z_y − z_j) / ‖w_y − w_j‖₁, so the exact robust accuracy at
// eps is the fraction with r(x) > eps. With eps between the two middle r's the
// truth is 50 %; AutoAttack 'standard' (its real settings) must attain it for
// K = 5, where APGD-CE alone falls short (fra31 measured 52.25 % for CE, 50 % for AA).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keep, manualSeed, rand, randn, tidy } from '../../src/tensor/index.js';
import { runAttacks, runAutoAttack } from '../../src/eval/autoattack.js';
import { linearModel, quiet } from './fixtures.js';

const N = 200;
const D = 25; // as [1, 5, 5]
const K = 5;

test('K = 5: AutoAttack standard attains the exact robust accuracy (Linf)', () => {
  manualSeed(25);
  const W = keep(randn([K, D], 'float64'));
  const b = keep(W.matmul(rand([D], 'float64').mul(0.1).add(0.45)).neg()); // boundaries through the centre
  const X = keep(rand([N, 1, 5, 5], 'float64').mul(0.4).add(0.3)); // points in [0.3, 0.7]
  const model = linearModel(W, b);
  const Y = keep(tidy(() => model.forward(X).argmax(1)));
  const z = tidy(() => model.forward(X).toArray());
  const w = W.toArray();
  const ys = Y.toArray();
  const r = ys.map((y, i) => {
    let best = Infinity;
    for (let j = 0; j < K; j++) {
      if (j === y) continue;
      let l1 = 0;
      for (let k = 0; k < D; k++) l1 += Math.abs(w[y * D + k]! - w[j * D + k]!);
      best = Math.min(best, (z[i * K + y]! - z[i * K + j]!) / l1);
    }
    return best;
  });
  const s = r.slice().sort((a, c) => a - c);
  const eps = (s[N / 2 - 1]! + s[N / 2]!) / 2;
  assert.ok(eps < 0.2 && s[N / 2]! - s[N / 2 - 1]! > 1e-6, `eps ${eps} keeps the box inactive and away from every r`);

  const aa = runAutoAttack(model, X, Y, { norm: 'Linf', eps, ...quiet });
  assert.equal(aa.robust.accuracy, 0.5, `AutoAttack ${aa.perAttack.map((a) => `${a.name} ${a.robustAccuracy}`).join(', ')}`);
  // exactly the points with r > eps survive
  assert.deepEqual(
    aa.robustFlags,
    r.map((v) => v > eps),
  );
  const ce = runAttacks(model, X, Y, [{ name: 'apgd-ce', options: { eps } }], { norm: 'Linf', eps, ...quiet });
  assert.ok(ce.robust.accuracy > 0.5, `APGD-CE alone falls short (${ce.robust.accuracy}) and never beats the truth`);
  aa.xAdv.dispose();
  ce.xAdv.dispose();
});
