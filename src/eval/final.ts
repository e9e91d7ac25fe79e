// Final evaluation of a possibly stochastic model on fixed inputs (e.g. the
// adversarial examples an attack returned): each point is classified R times.
// Reported side by side:
//   single    — correct on the first draw (the reference AutoAttack protocol);
//   meanOverR — mean over the R draws of the per-draw accuracy;
//   worstOfR  — correct in all R draws (a point misclassified in 1 of 10 draws
//               is not robust): the number carso reports by default.
import type { Model } from '../attacks/index.js';
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import { countWithInterval, type CountWithInterval } from './stats.js';

export interface FinalEvaluation {
  draws: number;
  single: CountWithInterval;
  worstOfR: CountWithInterval;
  /** Mean per-draw accuracy; `correct` is the mean count (not an integer in general). */
  meanOverR: { accuracy: number; correctPerDraw: number[] };
  /** Per point: correct draws out of R. */
  correctDraws: number[];
  /** Per point: correct on the first draw. */
  firstDraw: boolean[];
}

/** Classifies x: [n, C, H, W] R times (R >= 1) in batches; y: int64 [n]. */
export function finalEvaluation(model: Model, x: Tensor, y: Tensor, draws: number, batchSize = 250): FinalEvaluation {
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`final evaluation: draws must be an integer >= 1, got ${draws}`);
  const n = x.size(0);
  const labels = y.toArray();
  const correctDraws = new Array<number>(n).fill(0);
  const correctPerDraw: number[] = [];
  const firstDraw = new Array<boolean>(n).fill(false);
  for (let r = 0; r < draws; r++) {
    let k = 0;
    for (let s = 0; s < n; s += batchSize) {
      const m = Math.min(batchSize, n - s);
      const pred = noGrad(() =>
        tidy(() =>
          model
            .forward(x.narrow(0, s, m))
            .argmax(1)
            .toArray(),
        ),
      );
      pred.forEach((p, j) => {
        const ok = p === labels[s + j];
        if (ok) {
          k++;
          correctDraws[s + j] = (correctDraws[s + j] as number) + 1;
        }
        if (r === 0) firstDraw[s + j] = ok;
      });
    }
    correctPerDraw.push(k);
  }
  const single = firstDraw.filter(Boolean).length;
  const worst = correctDraws.filter((c) => c === draws).length;
  return {
    draws,
    single: countWithInterval(single, n),
    worstOfR: countWithInterval(worst, n),
    meanOverR: { accuracy: correctPerDraw.reduce((a, b) => a + b, 0) / (draws * Math.max(1, n)), correctPerDraw },
    correctDraws,
    firstDraw,
  };
}
