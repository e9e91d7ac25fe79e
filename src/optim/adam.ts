// Adam (L2 weight decay in the gradient) and AdamW (decoupled decay), in
// PyTorch 1.13's order (torch/optim/adam.py and adamw.py, single-tensor path):
//   AdamW: p *= 1 - lr * wd            Adam: g = g + wd * p
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (amsgrad: vmax = max(vmax, v), used for v)
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
import type { Tensor } from '../tensor/index.js';
import { Optimizer, type ParamState, type ParamsInput } from './optimizer.js';

export type AdamOptions = {
  lr: number;
  /** default [0.9, 0.999] */
  betas: [number, number];
  /** default 1e-8, added to the bias-corrected sqrt(v) */
  eps: number;
  /** Adam: L2 in the gradient, default 0. AdamW: decoupled, default 1e-2. */
  weightDecay: number;
  /** default false */
  amsgrad: boolean;
};

type AdamInput = Partial<AdamOptions> & { lr: number };

export class Adam extends Optimizer<AdamOptions> {
  readonly kind: string = 'Adam';
  protected readonly decoupled: boolean = false;

  constructor(params: ParamsInput<AdamOptions>, opts: AdamInput) {
    super(params, { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, ...opts });
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState, h: AdamOptions): void {
    const [b1, b2] = h.betas;
    if (this.decoupled) p.mul_(1 - h.lr * h.weightDecay);
    else if (h.weightDecay !== 0) grad = grad.add(p, h.weightDecay);
    const m = this.buffer(s, 'exp_avg', p);
    const v = this.buffer(s, 'exp_avg_sq', p);
    m.mul_(b1).add_(grad, 1 - b1);
    v.mul_(b2).addcmul_(grad, grad, 1 - b2);
    const bc1 = 1 - b1 ** s.step;
    const bc2 = 1 - b2 ** s.step;
    let vUsed = v;
    if (h.amsgrad) {
      vUsed = this.buffer(s, 'max_exp_avg_sq', p);
      vUsed.copy_(vUsed.maximum(v));
    }
    const denom = vUsed.sqrt().div(Math.sqrt(bc2)).add_(h.eps);
    p.addcdiv_(m, denom, -(h.lr / bc1));
  }
}

/**
 * Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks the
 * weights directly instead of entering the moments.
 *
 *     const opt = new AdamW(params, { lr: 1e-3 }); // weightDecay 1e-2 by default, as PyTorch
 */
export class AdamW extends Adam {
  override readonly kind: string = 'AdamW';
  protected override readonly decoupled: boolean = true;

  constructor(params: ParamsInput<AdamOptions>, opts: AdamInput) {
    super(params, { weightDecay: 1e-2, ...opts });
  }
}
