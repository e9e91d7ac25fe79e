// Norm strategies (Foolbox 3 style): everything an attack needs to know about
// its threat model — distance, projection onto the eps-ball ∩ [0, 1] box,
// gradient normalisation, random start — in one object per norm, shared by
// FGSM, PGD, APGD, FAB and Square.
//
// Conventions (attacks.md §0, fra31 autopgd_base.py):
//   * x, v, g: [B, ...] (any trailing shape, usually [B, C, H, W]); per-sample
//     quantities are [B] and broadcast back as [B, 1, ..., 1].
//   * normalize(v) = v / (‖v‖_p + 1e-12) — fra31 uses 1e-12 everywhere.
//   * project(v, x, eps) is what the references do, which for L2 is
//     "rescale into the ball, then clip to the box" (not the exact projection
//     onto ball ∩ box); for L1 it is the exact projection (fra31 L1_projection).
import { Tensor, rand, randnLike, tidy, where } from '../tensor/index.js';
import type { Norm } from './types.js';

/** NOTE: the constant fra31 adds to every norm it divides by (APGD, Square). */
export const NORM_EPS = 1e-12;

/** Random-start flavours. */
export type RandomStartMode =
  /** fra31 APGD: Linf sign-scaled U(-1,1) (max-entry on the sphere), L2 on the sphere, L1 projected Gaussian. */
  | 'apgd'
  /** torchattacks PGD/FFGSM: Linf U(-eps, eps)^d, L2 Gaussian direction with uniform radius r·eps. */
  | 'uniform';

export interface NormStrategy {
  readonly name: Norm;
  /** Per-sample p-norm: v [B, ...] -> [B]. */
  norm(v: Tensor): Tensor;
  /** Per-sample distance ‖a − b‖_p: [B, ...] x2 -> [B]. */
  distance(a: Tensor, b: Tensor): Tensor;
  /** v / (‖v‖_p + 1e-12) per sample (fra31 `normalize`). */
  normalize(v: Tensor): Tensor;
  /**
   * Steepest-ascent direction of unit size for a gradient g: Linf sign(g),
   * L2 g/(‖g‖₂+1e-12), L1 g/(‖g‖₁+1e-12) (dense; APGD-L1 uses its own sparse step).
   */
  normalizeGrad(g: Tensor): Tensor;
  /** v projected onto {‖v − x‖_p ≤ eps} ∩ [0, 1]^d as the references do. eps > 0. */
  project(v: Tensor, x: Tensor, eps: number): Tensor;
  /** A random starting point in the ball ∩ box around x (draws from the global libtorch RNG). */
  randomStart(x: Tensor, eps: number, mode?: RandomStartMode): Tensor;
}

/** [B] -> [B, 1, ..., 1] with as many dims as `like`. */
export function perSample(v: Tensor, like: Tensor): Tensor {
  return v.view(like.size(0), ...Array<number>(like.ndim - 1).fill(1));
}

function flat(v: Tensor): Tensor {
  return v.reshape(v.size(0), -1);
}

function normalizeBy(v: Tensor, n: Tensor): Tensor {
  return v.div(perSample(n.add(NORM_EPS), v));
}

export const Linf: NormStrategy = {
  name: 'Linf',
  norm: (v) => flat(v).abs().amax([1]),
  distance: (a, b) => Linf.norm(a.sub(b)),
  normalize: (v) => normalizeBy(v, Linf.norm(v)),
  normalizeGrad: (g) => g.sign(),
  // NOTE: fra31 order: clip to [x−eps, x+eps] (max then min), then to [0, 1].
  project: (v, x, eps) => v.maximum(x.sub(eps)).minimum(x.add(eps)).clamp(0, 1),
  randomStart(x, eps, mode = 'apgd') {
    if (mode === 'uniform')
      return x
        .add(
          rand(x.shape, x.dtype, x.device)
            .mul(2 * eps)
            .sub(eps),
        )
        .clamp(0, 1);
    const t = rand(x.shape, x.dtype, x.device).mul(2).sub(1);
    return x.add(Linf.normalize(t).mul(eps)).clamp(0, 1);
  },
};

export const L2: NormStrategy = {
  name: 'L2',
  norm: (v) => flat(v).square().sum(1).sqrt(),
  distance: (a, b) => L2.norm(a.sub(b)),
  normalize: (v) => normalizeBy(v, L2.norm(v)),
  normalizeGrad: (g) => L2.normalize(g),
  // NOTE: fra31 APGD form clip(x + normalize(d)·min(eps, ‖d‖), 0, 1): rescale, then box clip.
  project(v, x, eps) {
    const d = v.sub(x);
    const r = perSample(L2.norm(d).clamp(null, eps), x);
    return x.add(L2.normalize(d).mul(r)).clamp(0, 1);
  },
  randomStart(x, eps, mode = 'apgd') {
    const dir = L2.normalize(randnLike(x));
    if (mode === 'apgd') return x.add(dir.mul(eps)).clamp(0, 1);
    const r = perSample(rand([x.size(0)], x.dtype, x.device), x);
    return x.add(dir.mul(r).mul(eps)).clamp(0, 1);
  },
};

export const L1: NormStrategy = {
  name: 'L1',
  norm: (v) => flat(v).abs().sum(1),
  distance: (a, b) => L1.norm(a.sub(b)),
  normalize: (v) => normalizeBy(v, L1.norm(v)),
  normalizeGrad: (g) => L1.normalize(g),
  // NOTE: fra31 form x + δ + L1_projection(x, δ, eps) (not v + ...): same rounding as the reference.
  project(v, x, eps) {
    const d = v.sub(x);
    return x.add(d).add(l1Correction(x, d, eps));
  },
  randomStart(x, eps, mode = 'apgd') {
    // fra31: t ~ N(0, I), start = x + t projected; 'uniform': Gaussian direction, uniform radius.
    const t =
      mode === 'apgd'
        ? randnLike(x)
        : L1.normalize(randnLike(x))
            .mul(perSample(rand([x.size(0)], x.dtype, x.device), x))
            .mul(eps);
    return x.add(t).add(l1Correction(x, t, eps));
  },
};

/**
 * fra31 `L1_projection(x, d, eps)`: the correction c such that x + d + c is the
 * exact projection of x + d onto {‖δ‖₁ ≤ eps} ∩ {x + δ ∈ [0, 1]}, i.e.
 * |δ_i| = min(room_i, max(|d_i| − λ, 0)) with room_i the distance to the box face
 * d_i points at, and λ ≥ 0 the smallest value with ‖δ‖₁ ≤ eps (λ = 0 when box
 * clipping alone lands in the ball). c_i = −sign(d_i)·clip(λ, excess_i, |d_i|),
 * excess_i = max(|d_i| − room_i, 0), as the reference writes it.
 * NOTE: λ by bisection (60 halvings of [0, max|d|], exact to rounding) instead of
 * fra31's sorted-breakpoint search: the same point, shorter code.
 */
export function l1Correction(x: Tensor, d: Tensor, eps: number): Tensor {
  return tidy(() => {
    const s = d.sign();
    const a = flat(d.abs());
    const room = flat(where(s.gt(0), x.rsub(1), x)); // [B, n]
    const mass = (lam: Tensor): Tensor => a.sub(lam).clamp(0, null).minimum(room).sum(1, true);
    const zero = a.amax([1], true).mul(0);
    let [lo, hi] = [zero, a.amax([1], true)];
    for (let i = 0; i < 60; i++) {
      const mid = lo.add(hi).mul(0.5);
      const ok = mass(mid).le(eps);
      [lo, hi] = [where(ok, lo, mid), where(ok, mid, hi)];
    }
    const lam = where(mass(zero).le(eps), zero, hi);
    const excess = a.sub(room).clamp(0, null);
    return lam
      .maximum(excess)
      .minimum(a)
      .neg()
      .view(...d.shape)
      .mul(s);
  });
}

export const NORMS: Readonly<Record<Norm, NormStrategy>> = { Linf, L2, L1 };

/** The strategy for a norm name. */
export function normOf(n: Norm): NormStrategy {
  return NORMS[n];
}
