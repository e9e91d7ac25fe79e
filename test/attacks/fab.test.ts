// FAB / FAB-T: fra31 golden single runs (attacks.md §10.1), the AutoAttack
// configuration, and the analytic linear-model check (§10.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tensor, keep, memoryStats, tensor, tidy } from '../../src/tensor/index.js';
import { FAB, fabSettings, fabSingleRun, fabT } from '../../src/attacks/fab.js';
import { Square } from '../../src/attacks/square.js';
import type { Attack, Model, Norm } from '../../src/attacks/types.js';
import { checkTensor } from '../helpers.js';
import { linearProblem, medianEps } from './models.js';

interface FabGolden {
  adv: number[][];
  dist: number[];
  pred: number[];
}
const golden = (JSON.parse(readFileSync('/work/shared/spec/attacks_golden.json', 'utf8')) as { core: Record<string, FabGolden> })
  .core;

/** The golden tiny model in float32 (fab_base casts to float32): 8 -> 12 tanh -> 5, +0.8 on classes 1, 2. */
function tinyModel32(): { model: Model; X: Tensor } {
  const table = (rows: number, cols: number, f: (i: number, j: number) => number): Tensor =>
    keep(
      tensor(
        Array.from({ length: rows * cols }, (_, k) => f(Math.floor(k / cols), k % cols)),
        [rows, cols],
        'float32',
      ),
    );
  const W1 = table(12, 8, (i, j) => 5 * Math.sin(1 + i * 8 + j));
  const b1 = table(1, 12, (_, i) => 0.5 * Math.cos(i));
  const W2 = table(5, 12, (c, i) => 0.7 * Math.cos(1 + c * 12 + i));
  const b2 = table(1, 5, (_, c) => (c === 2 || c === 1 ? 0.8 : 0));
  const X = table(2, 8, (b, j) => (b === 0 ? (j + 1) / 10 : (((7 * j) % 8) + 0.5) / 8));
  const forward = (x: Tensor): Tensor =>
    x.reshape(x.size(0), -1).matmul(W1.transpose(0, 1)).add(b1).tanh().matmul(W2.transpose(0, 1)).add(b2);
  return { model: { stochastic: false, forward }, X };
}

for (const norm of ['Linf', 'L2'] as const)
  test(`fabt_${norm}_it10_float32: one deterministic FAB-T run matches fra31 (1e-4)`, () => {
    const { model, X } = tinyModel32();
    const before = memoryStats().liveTensors;
    tidy(() => {
      const y = model.forward(X).argmax(1);
      const s = fabSettings('fab-t', { eps: 1, norm, nIter: 10, targeted: true });
      const r = fabSingleRun(model, X, y, s, { randomStart: false, targetClass: 2 });
      const g = golden[`fabt_${norm}_it10_float32`] as FabGolden;
      // NOTE: the spec's tolerance for float32 FAB runs (attacks_golden.json _meta): FAB's iterations amplify
      // float32 rounding (4e-5 over 2 x 20 iterations on a conv net, issue 12); measured here <= 5.2e-7,
      // the golden's 6-decimal rounding, on OpenBLAS's Prescott, Haswell, Zen, SkylakeX and ATen's portable kernels.
      checkTensor(r.xAdv, g.adv.flat(), `fabt ${norm} adv`, 1e-4, 0);
      checkTensor(r.dist, g.dist, `fabt ${norm} dist`, 1e-4, 0);
      assert.deepEqual(model.forward(r.xAdv).argmax(1).toArray(), g.pred);
      assert.equal(r.queries, 1 + 2 * 10, 'one clean pass, then a linearisation and a check per iteration');
    });
    assert.equal(memoryStats().liveTensors, before, 'no tensor leaks');
  });

test('fabT(): the AutoAttack configuration, fra31 defaults otherwise', () => {
  const a = fabT('L2', 0.5);
  assert.equal(a.name, 'fab-t');
  assert.deepEqual(a.settings, {
    norm: 'L2',
    eps: 0.5,
    nIter: 100,
    alphaMax: 0.1,
    eta: 1.05,
    beta: 0.9,
    nRestarts: 1,
    targeted: true,
    nTargetClasses: 9,
    seed: 0,
  });
  assert.equal(new FAB({ eps: 0.3 }).name, 'fab');
  assert.throws(() => new FAB({ eps: 0 }), /eps/);
  assert.throws(() => new FAB({ eps: 0.3, alphaMax: 2 }), /alphaMax/);
  assert.throws(() => new FAB({ eps: 0.3, eotIter: 5 }), /EOT/);
});

// ---- analytic check on linear models (attacks.md §10.2) ----------------------

const N = 120;

test('linear K = 5: untargeted FAB settles at ≈ 1.0052·r (within [1.004, 1.007] of the exact minimum)', () => {
  const lin = linearProblem(5, N, 31);
  for (const norm of ['Linf', 'L2'] as const) {
    const r = fabSingleRun(lin.model, lin.X, lin.Y, fabSettings('fab', { eps: 1, norm }), { randomStart: false });
    r.xAdv.dispose();
    const ratio = r.dist.map((d, i) => d / (lin.r[norm][i] as number));
    const [lo, hi] = [Math.min(...ratio), Math.max(...ratio)];
    assert.ok(lo >= 1.004 && hi <= 1.007, `${norm}: dist / r in [${lo}, ${hi}]`);
  }
});

test('linear K = 5: neither FAB, FAB-T nor Square beats the exact robust accuracy (Linf, L2)', () => {
  const lin = linearProblem(5, N, 32);
  for (const norm of ['Linf', 'L2'] as Norm[]) {
    const { eps } = medianEps(lin.r[norm as 'Linf' | 'L2']);
    const attacks: Attack[] = [
      new FAB({ eps, norm }),
      new FAB({ eps, norm, targeted: true, nTargetClasses: 4, nIter: 50 }),
      new Square({ eps, norm, nQueries: 500, rescSchedule: false }),
    ];
    for (const a of attacks) {
      const res = a.attack(lin.model, lin.X, lin.Y);
      res.xAdv.dispose();
      const acc = res.success.filter((f) => !f).length / N;
      assert.ok(acc >= 0.5, `${a.name} ${norm}: robust accuracy ${acc} below the exact 0.5`);
      if (a.name === 'fab') assert.ok(acc <= 0.55, `fab ${norm}: robust accuracy ${acc} (FAB is near-minimal here)`);
    }
  }
});
