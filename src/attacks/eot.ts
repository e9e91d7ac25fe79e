// Expectation over Transformation (Athalye et al. 2018; attacks.md §4.6, §8):
// the one place where every gradient attack gets its input gradient.
//
//   g = (1/n) Σ_{s=1..n} ∇_x Σ_b loss_b(f_s(x))      (fresh model randomness per pass)
//
// As fra31 APGD, the per-example loss and the logits returned (used for the
// attacks' accuracy / best-loss bookkeeping) are those of the LAST sample.
// With a deterministic model and n = 1 this is one plain forward/backward. A
// model with forwardDraws (CARSO) gets its n draws in as few batched calls as
// its drawsPerCall allows: same expectation, other random numbers.
// NOTE: foolbox's EoT wrapper averages logits instead; we follow fra31.
import { Tensor, enableGrad, grad, tidy, where, zerosLike } from '../tensor/index.js';
import type { LossFn } from './losses.js';
import type { Model } from './types.js';

export interface LossAndGrad {
  /** EOT-averaged gradient of Σ_b loss_b w.r.t. x: [B, ...]; non-finite entries replaced by 0. */
  grad: Tensor;
  /** Per-example loss of the last sample: [B]. */
  loss: Tensor;
  /** Logits of the last sample: [B, K] (detached). */
  logits: Tensor;
  /** Per example: a NaN/Inf was seen in its gradient or loss in any sample. */
  nonFinite: boolean[];
  /**
   * Per example: EVERY sample's gradient or loss held a NaN/Inf (the attack got no direction at all
   * from this call). NOTE: with batched draws (forwardDraws) a call of k draws gives one summed
   * gradient, so it counts as one sample, non-finite when any of its draws is.
   */
  allNonFinite: boolean[];
  /** Forward passes spent (= eotIter). */
  queries: number;
}

/**
 * Loss and EOT-averaged input gradient at x (x: [B, ...], y: int64 [B]).
 * All returned tensors are detached and owned by the caller.
 *
 *     const { grad, loss } = lossAndGrad(model, x, y, ceLoss, 20); // AA 'rand' setting
 */
export function lossAndGrad(model: Model, x: Tensor, y: Tensor, lossFn: LossFn, eotIter = 1): LossAndGrad {
  if (!Number.isInteger(eotIter) || eotIter < 1) throw new Error(`lossAndGrad: eotIter must be an integer >= 1 (got ${eotIter})`);
  const B = x.size(0);
  const nonFinite = new Array<boolean>(B).fill(false);
  const allNonFinite = new Array<boolean>(B).fill(true);
  const batched = eotIter > 1 && model.forwardDraws !== undefined;
  const out = tidy(() => {
    let sum: Tensor | null = null;
    let last: { loss: Tensor; logits: Tensor } | null = null;
    for (let done = 0; done < eotIter;) {
      const k = batched ? Math.max(1, Math.min(eotIter - done, model.drawsPerCall?.(B) ?? eotIter)) : 1;
      const r = enableGrad(() => {
        const xr = x.detach().requiresGrad_();
        // k draws: one forwardDraws call, or one plain forward as a single draw [1, B, K]
        const logits = batched ? (model.forwardDraws as (x: Tensor, d: number) => Tensor)(xr, k) : model.forward(xr).unsqueeze(0);
        // the loss of every draw summed, so the gradient is their sum
        const loss = lossFn(logits.reshape(k * B, -1), k === 1 ? y : y.repeat(k)); // draw-major [k B]
        const [g] = grad(loss.sum(), [xr], { allowUnused: true });
        return { g: g ?? zerosLike(x), loss: loss.detach().narrow(0, (k - 1) * B, B), logits: logits.detach().select(0, k - 1) };
      });
      const bad = nonFiniteRows(r.g, r.loss);
      bad.forEach((b, i) => {
        nonFinite[i] = (nonFinite[i] as boolean) || b;
        allNonFinite[i] = (allNonFinite[i] as boolean) && b;
      });
      sum = sum === null ? r.g : sum.add(r.g);
      last = r;
      done += k;
    }
    // NOTE: divide even when eotIter = 1 (fra31 `grad /= float(eot_iter)`: exact for 1).
    const mean = (sum as Tensor).div(eotIter);
    const { loss, logits } = last as { loss: Tensor; logits: Tensor };
    // NaN/Inf gradients are reported (nonFinite) and zeroed so iterates stay in the box.
    return { grad: where(mean.isfinite(), mean, zerosLike(mean)), loss, logits };
  });
  return { ...out, nonFinite, allNonFinite, queries: eotIter };
}

/** Per example: its gradient row or loss holds a NaN/Inf. */
function nonFiniteRows(g: Tensor, loss: Tensor): boolean[] {
  return tidy(() =>
    g.isfinite().logicalNot().reshape(g.size(0), -1).sum(1).gt(0).logicalOr(loss.isfinite().logicalNot()).toArray(),
  ).map((b) => b !== 0);
}
