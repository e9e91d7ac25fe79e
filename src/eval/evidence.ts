// Per-point evidence of gradient masking at the clean inputs (issue 13), for the
// verdict's last columns (verdict.ts): does the model's output go NaN/Inf there,
// and does each AutoAttack loss (CE, DLR) give the attack a direction at all.
// One draw each for a stochastic model; what the attacks did (NaN/Inf met, early
// stops, how far the iterates moved) comes from the attack cascade instead.
//
//     const ev = cleanEvidence(carso, x, y, 50); // ev.outputNonFinite[i]: point i's output held a NaN/Inf
import { ceLoss, dlrLoss, lossAndGrad, type LossFn, type Model } from '../attacks/index.js';
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { PointEvidence } from './result.js';

/** Per point of x: [n, ...] (y: int64 [n]): the loss's input gradient (one draw) is zero everywhere, or NaN/Inf somewhere. */
export function gradientStatus(
  model: Model,
  x: Tensor,
  y: Tensor,
  loss: LossFn,
  bs: number,
): { zero: boolean[]; nonFinite: boolean[] } {
  const zero: boolean[] = [];
  const nonFinite: boolean[] = [];
  for (let s = 0; s < x.size(0); s += bs) {
    const m = Math.min(bs, x.size(0) - s);
    tidy(() => {
      const r = lossAndGrad(model, x.narrow(0, s, m), y.narrow(0, s, m), loss, 1);
      // NOTE: lossAndGrad zeroes NaN/Inf entries; a flagged row counts as non-finite, not as zero
      const z = r.grad.abs().reshape(m, -1).sum(1).eq(0).toArray();
      z.forEach((v, j) => zero.push(v !== 0 && r.nonFinite[j] !== true));
      nonFinite.push(...r.nonFinite);
    });
  }
  return { zero, nonFinite };
}

/** Per point: the model's output on x (one forward per batch) holds a NaN/Inf. */
export function outputNonFinite(model: Model, x: Tensor, bs: number): boolean[] {
  const out: boolean[] = [];
  for (let s = 0; s < x.size(0); s += bs) {
    const m = Math.min(bs, x.size(0) - s);
    const bad = noGrad(() =>
      tidy(() =>
        model
          .forward(x.narrow(0, s, m))
          .isfinite()
          .logicalNot()
          .sum(1)
          .gt(0)
          .toArray(),
      ),
    );
    out.push(...bad.map((b) => b !== 0));
  }
  return out;
}

/** The clean-input evidence of `model` on x: [n, ...], y: int64 [n] with K classes (DLR only when K >= 3). */
export function cleanEvidence(model: Model, x: Tensor, y: Tensor, K: number, bs: number): PointEvidence {
  const dead = (loss: LossFn): boolean[] => {
    const g = gradientStatus(model, x, y, loss, bs);
    return g.zero.map((z, i) => z || (g.nonFinite[i] as boolean));
  };
  return {
    outputNonFinite: outputNonFinite(model, x, bs),
    gradientCe: dead(ceLoss),
    ...(K >= 3 ? { gradientDlr: dead(dlrLoss) } : {}),
  };
}
