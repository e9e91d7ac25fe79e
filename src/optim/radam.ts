// RAdam (Liu et al. 2019, "On the Variance of the Adaptive Learning Rate and
// Beyond"), as PyTorch 1.13's torch.optim.RAdam (single-tensor path), op for op:
//   g = g + wd * p                                     (L2; or decoupled, below)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   rho_inf = 2 / (1 - b2) - 1;  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
//   rho_t > 5:  p -= lr * m / (1 - b1^t) * sqrt(1 - b2^t) / (sqrt(v) + eps) * rect(rho_t)
//   else:       p -= lr * m / (1 - b1^t)               (the "degenerate to SGD" step)
//
// CARSO (carso.md 3.6) uses ebtorch's RAdam (LiyuanLucasLiu's code) with
// degenerated_to_sgd=True and no weight decay; that is the same algorithm as
// the above (same eps placement: sqrt(v) + eps on the raw v, times sqrt(1 - b2^t)),
// differing only in float rounding order. ebtorch differs elsewhere only through
// options, both offered here:
//   degenerateToSgd: false  skips the update while rho_t <= 5 (moments still
//                           accumulate), as degenerated_to_sgd=False;
//   decoupledWeightDecay    p *= 1 - lr * wd instead of L2, applied only on steps
//                           that move p (ebtorch's weight decay; PyTorch >= 2.0's
//                           decoupled_weight_decay=True when degenerateToSgd).
// NOTE: ebtorch tests rho_t >= 5 where PyTorch tests rho_t > 5; rho_t is never
// exactly 5 at an integer step for the usual b2, so the two agree.
import type { Tensor } from '../tensor/index.js';
import { Optimizer, type ParamState, type ParamsInput } from './optimizer.js';

export type RAdamOptions = {
  lr: number;
  /** default [0.9, 0.999] */
  betas: [number, number];
  /** default 1e-8 */
  eps: number;
  /** default 0 */
  weightDecay: number;
  /** default false (L2, as torch 1.13) */
  decoupledWeightDecay: boolean;
  /** default true (as torch, and CARSO's ebtorch setting) */
  degenerateToSgd: boolean;
};

/**
 *     const opt = new RAdam(params, { lr: 0.064 }); // CARSO's purifier, wrapped in Lookahead
 */
export class RAdam extends Optimizer<RAdamOptions> {
  readonly kind = 'RAdam';

  constructor(params: ParamsInput<RAdamOptions>, opts: Partial<RAdamOptions> & { lr: number }) {
    super(params, {
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      decoupledWeightDecay: false,
      degenerateToSgd: true,
      ...opts,
    });
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState, h: RAdamOptions): void {
    const [b1, b2] = h.betas;
    const t = s.step;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * t * b2 ** t) / bc2;
    const moves = rhoT > 5 || h.degenerateToSgd;
    if (h.weightDecay !== 0 && h.decoupledWeightDecay && moves) p.mul_(1 - h.lr * h.weightDecay);
    if (h.weightDecay !== 0 && !h.decoupledWeightDecay) grad = grad.add(p, h.weightDecay);
    const m = this.buffer(s, 'exp_avg', p);
    const v = this.buffer(s, 'exp_avg_sq', p);
    m.mul_(b1).add_(grad, 1 - b1);
    v.mul_(b2).addcmul_(grad, grad, 1 - b2);
    if (!moves) return;
    const mHat = m.div(bc1);
    if (rhoT > 5) {
      const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
      // NOTE: PyTorch evaluates `scalar / tensor` as tensor.reciprocal() * scalar; same here, for the same rounding.
      const adaptive = v.sqrt().add_(h.eps).reciprocal().mul(Math.sqrt(bc2));
      p.add_(mHat.mul(h.lr).mul(adaptive).mul(rect), -1);
    } else {
      p.add_(mHat.mul(h.lr), -1);
    }
  }
}
