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
const cases: [string, NormStrategy, number, () => LossFn, boolean][] = [
  ['apgd_ce_linf_eps0.1_it20', Linf, 0.1, () => ceLoss, false],
  ['apgd_dlr_linf_eps0.1_it20', Linf, 0.1, () => dlrLoss, true],
  ['apgd_ce_l2_eps0.3_it20', L2, 0.3, () => ceLoss, false],
  // target = 2nd largest clean logit
  ['apgd_t_linf_eps0.1_it20', Linf, 0.1, () => dlrTargeted(model.forward(X).sort(1)[1].select(1, 3)), true],
];

for (const [key, norm, eps, loss, chaotic] of cases) {
  test(`APGD golden ${key}`, () =>
    tidy(() => {
      const g = core[key] as GoldenRun;
      const r = apgdSingleRun(model, X, Y, { norm, eps, nIter: 20, lossFn: loss(), eotIter: 1, rho: 0.75, xInit: X });
      const n = chaotic ? 20 : 21; // the last iterate of the Linf DLR runs is chaotic in the reference itself
      const dev = (a: number[][], b: number[][]) => Math.max(...a.flat().map((v, i) => Math.abs(v - (b.flat()[i] as number))));
      console.log(
        `${key}: max dev trace ${dev(r.lossTrace.slice(0, n), g.loss_trace_per_iterate.slice(0, n)).toExponential(2)}, ` +
          `x_best ${dev([r.xBest.toArray()], [g.x_best.flat()]).toExponential(2)}, x_best_adv ${dev([r.xBestAdv.toArray()], [g.x_best_adv.flat()]).toExponential(2)}, ` +
          `loss_best ${dev([r.lossBest], [g.loss_best]).toExponential(2)}`,
      );
      checkTensor(r.lossTrace.slice(0, n).flat(), g.loss_trace_per_iterate.slice(0, n).flat(), `${key} loss trace`, 1e-6, 0);
      checkTensor(r.lossTrace[20]!, g.loss_trace_per_iterate[20]!, `${key} last iterate`, chaotic ? 5e-3 : 1e-6, 0);
      checkTensor(r.xBest, g.x_best.flat(), `${key} x_best`, 1e-6, 0);
      checkTensor(r.xBestAdv, g.x_best_adv.flat(), `${key} x_best_adv`, chaotic ? 2e-3 : 1e-6, 0);
      checkTensor(r.lossBest, g.loss_best, `${key} loss_best`, 1e-6, 0);
      assert.deepEqual(r.acc, g.acc);
      assert.equal(r.queries, 21);
    }));
}
