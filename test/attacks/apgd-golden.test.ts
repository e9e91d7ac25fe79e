// APGD against fra31 goldens (attacks.md §4.2, §10.1): the checkpoint schedule and
// four single runs on the tiny float64 model from x_init = x, N = 20.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tidy } from '../../src/tensor/index.js';
import { apgdCheckpoints, apgdSingleRun } from '../../src/attacks/apgd.js';
import { ceLoss, dlrLoss, dlrTargeted, type LossFn } from '../../src/attacks/losses.js';
import { Linf, L2, type NormStrategy } from '../../src/attacks/norms.js';
import { checkTensor } from '../helpers.js';
import { tinyModel } from './models.js';

interface GoldenRun {
  loss_trace_per_iterate: number[][];
  x_best: number[][];
  x_best_adv: number[][];
  loss_best: number[];
  acc: boolean[];
}
const core = (JSON.parse(readFileSync('/work/shared/spec/attacks_golden.json', 'utf8')) as { core: Record<string, unknown> })
  .core;

test('APGD checkpoint schedule (fra31 integer form)', () => {
  assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
  assert.deepEqual(apgdCheckpoints(20), [4, 7, 9, ...Array.from({ length: 11 }, (_, i) => 10 + i)]);
  assert.deepEqual(apgdCheckpoints(50), [11, 21, 30, 38, 45]);
  assert.deepEqual(apgdCheckpoints(10), [2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

const { model, X, Y } = tinyModel();
const cases: [string, NormStrategy, number, () => LossFn][] = [
  ['apgd_ce_linf_eps0.1_it20', Linf, 0.1, () => ceLoss],
  ['apgd_dlr_linf_eps0.1_it20', Linf, 0.1, () => dlrLoss],
  ['apgd_ce_l2_eps0.3_it20', L2, 0.3, () => ceLoss],
  // target = 2nd largest clean logit
  ['apgd_t_linf_eps0.1_it20', Linf, 0.1, () => dlrTargeted(model.forward(X).sort(1)[1].select(1, 3))],
];

// NOTE (tolerances): everything is float64 and the golden keeps 10 decimals (rounding <= 5e-11); 20
// iterations of an 8 -> 12 -> 5 net add ~1e-14, so 1e-9 (20x the rounding) holds on any CPU and
// fails on any float32 step. One decision is a genuine tie: at checkpoint 19 fra31 counts loss
// increases over the last iterates, and where iterates 18 and 19 are the same point up to rounding
// (both pinned to the same corner of the box) their losses differ in the last bit, either way on
// different BLAS kernels; the step size of the final step then halves or not. For such points only
// (found from our own trace: |l19 - l18| <= 1e-12 |l19|) the final iterate and x_best_adv (the final
// iterate, when the point stays misclassified) may take the other branch: measured, the APGD-T point 1
// lands 2.0e-3 (loss) and 1.03e-3 (x) from the golden under OpenBLAS's Prescott kernel and within
// 1e-10 under Haswell, Zen and SkylakeX; the bounds are the reference's own spread across machines
// (attacks_golden.json _meta: loss 5e-3, x 2e-3). Their count is reported; acc and queries stay exact.
const TIGHT = 1e-9;

/** Columns `cols` of the row-major [rows, n] values. */
const columns = (v: number[], n: number, cols: number[]): number[] => v.filter((_, i) => cols.includes(i % n));

for (const [key, norm, eps, loss] of cases) {
  test(`APGD golden ${key}`, (t) =>
    tidy(() => {
      const g = core[key] as GoldenRun;
      const r = apgdSingleRun(model, X, Y, { norm, eps, nIter: 20, lossFn: loss(), eotIter: 1, rho: 0.75, xInit: X });
      const B = g.loss_best.length;
      const d = X.size(1);
      const [l18, l19] = [r.lossTrace[18]!, r.lossTrace[19]!];
      const tie = l19.map((l, b) => Math.abs(l - l18[b]!) <= 1e-12 * Math.abs(l));
      const ties = [...Array(B).keys()].filter((b) => tie[b]);
      const firm = [...Array(B).keys()].filter((b) => !tie[b]);
      t.diagnostic(`${key}: ${ties.length} of ${B} points tied at checkpoint 19 (final step checked loosely)`);
      checkTensor(r.lossTrace.slice(0, 20).flat(), g.loss_trace_per_iterate.slice(0, 20).flat(), `${key} loss trace`, TIGHT, 0);
      checkTensor(
        columns(r.lossTrace[20]!, B, firm),
        columns(g.loss_trace_per_iterate[20]!, B, firm),
        `${key} last iterate`,
        TIGHT,
        0,
      );
      checkTensor(
        columns(r.lossTrace[20]!, B, ties),
        columns(g.loss_trace_per_iterate[20]!, B, ties),
        `${key} last iterate (ties)`,
        5e-3,
        0,
      );
      checkTensor(r.xBest, g.x_best.flat(), `${key} x_best`, TIGHT, 0);
      const adv = r.xBestAdv.toArray();
      const rowsOf = (pts: number[]): number[] => pts.flatMap((b) => [...Array(d).keys()].map((j) => b * d + j));
      const pick = (v: number[], pts: number[]): number[] => rowsOf(pts).map((i) => v[i]!);
      checkTensor(pick(adv, firm), pick(g.x_best_adv.flat(), firm), `${key} x_best_adv`, TIGHT, 0);
      checkTensor(pick(adv, ties), pick(g.x_best_adv.flat(), ties), `${key} x_best_adv (ties)`, 2e-3, 0);
      checkTensor(r.lossBest, g.loss_best, `${key} loss_best`, TIGHT, 0);
      assert.deepEqual(r.acc, g.acc);
      assert.equal(r.queries, 21);
    }));
}
