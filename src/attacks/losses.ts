// Per-sample attack losses on logits (attacks.md §1, fra31 autopgd_base.py /
// square.py). Every function maps logits z: [B, K] (+ int64 labels [B]) to a
// per-example loss [B] that attacks MAXIMISE (except `margin`, which Square
// minimises); gradients flow through all of them (sort values included).
import { Tensor } from '../tensor/index.js';

/** A per-sample loss: logits [B, K], labels int64 [B] -> [B]. */
export type LossFn = (z: Tensor, y: Tensor) => Tensor;

/** NOTE: fra31's denominator guard in dlr_loss / dlr_loss_targeted. */
export const DLR_EPS = 1e-12;

/** z[b, y_b] as [B]. */
export function pick(z: Tensor, y: Tensor): Tensor {
  return z.gather(1, y.view(-1, 1)).view(-1);
}

/** Cross-entropy −log softmax(z)_y per sample: [B]. */
export function ceLoss(z: Tensor, y: Tensor): Tensor {
  return z.crossEntropy(y, 'none');
}

/**
 * Untargeted DLR (Croce & Hein 2020), K ≥ 3:
 * −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3 + 1e-12); positive ⇔ misclassified.
 *
 *     dlrLoss([[1, 3, 2, 0.5, -1]], [0]) -> [1.0]
 */
export function dlrLoss(z: Tensor, y: Tensor): Tensor {
  const [zs, is] = z.sort(1); // ascending, as fra31
  const K = z.size(1);
  const top = zs.select(1, K - 1);
  const yIsTop = is
    .select(1, K - 1)
    .eq(y)
    .to(z.dtype);
  // max over i ≠ y: the 2nd largest when y is on top, else the largest.
  const other = zs
    .select(1, K - 2)
    .mul(yIsTop)
    .add(top.mul(yIsTop.rsub(1)));
  return pick(z, y)
    .sub(other)
    .neg()
    .div(top.sub(zs.select(1, K - 3)).add(DLR_EPS));
}

/**
 * Targeted DLR (fra31 `dlr_loss_targeted`), K ≥ 4, maximised:
 * −(z_y − z_t) / (z_π1 − ½(z_π3 + z_π4) + 1e-12).
 *
 *     dlrTargetedLoss([[1, 3, 2, 0.5, -1]], [0], [2]) -> [0.4444444444]
 */
export function dlrTargetedLoss(z: Tensor, y: Tensor, target: Tensor): Tensor {
  const [zs] = z.sort(1);
  const K = z.size(1);
  const den = zs
    .select(1, K - 1)
    .sub(
      zs
        .select(1, K - 3)
        .add(zs.select(1, K - 4))
        .mul(0.5),
    )
    .add(DLR_EPS);
  return pick(z, y).sub(pick(z, target)).neg().div(den);
}

/** `dlrTargetedLoss` with the target classes bound (target: int64 [B]), as a LossFn. */
export function dlrTargeted(target: Tensor): LossFn {
  return (z, y) => dlrTargetedLoss(z, y, target);
}

/**
 * Margin m(z, y) = z_y − max_{j≠y} z_j per sample (Square's "margin", CW's
 * logit margin); negative ⇔ misclassified. Square MINIMISES it; for a targeted
 * attack pass the target as y and maximise −m.
 */
export function margin(z: Tensor, y: Tensor): Tensor {
  const isY = y.oneHot(z.size(1)).to('bool');
  const others = z.maskedFill(isY, -Infinity).amax([1]);
  return pick(z, y).sub(others);
}

/** Madry's CW loss −relu(m(z, y) + κ), maximised (κ = 50 in the MNIST challenge). */
export function cwLoss(kappa = 50): LossFn {
  return (z, y) => margin(z, y).add(kappa).relu().neg();
}

export type LossName = 'ce' | 'dlr' | 'cw';

/** Untargeted losses by name (APGD `loss=` option). */
export const LOSSES: Readonly<Record<LossName, LossFn>> = { ce: ceLoss, dlr: dlrLoss, cw: cwLoss() };
