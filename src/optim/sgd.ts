// SGD with momentum, dampening, Nesterov and L2 weight decay, in exactly
// PyTorch 1.13's order (torch/optim/sgd.py, _single_tensor_sgd):
//   d = g + wd * p
//   buf = d (first step) | momentum * buf + (1 - dampening) * d
//   d = d + momentum * buf (Nesterov) | buf
//   p -= lr * d
import type { Tensor } from '../tensor/index.js';
import { keep } from '../tensor/index.js';
import { Optimizer, type ParamState, type ParamsInput } from './optimizer.js';

export type SGDOptions = {
  lr: number;
  /** default 0 (no momentum buffer) */
  momentum: number;
  /** default 0 */
  dampening: number;
  /** default false; needs momentum > 0 and dampening 0 */
  nesterov: boolean;
  /** L2 penalty added to the gradient, default 0 */
  weightDecay: number;
};

/**
 *     const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 *     opt.zeroGrad(); loss.backward(); opt.step();
 */
export class SGD extends Optimizer<SGDOptions> {
  readonly kind = 'SGD';

  constructor(params: ParamsInput<SGDOptions>, opts: Partial<SGDOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...opts });
    for (const g of this.paramGroups)
      if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
        throw new Error('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
  }

  protected update(p: Tensor, grad: Tensor, s: ParamState, h: SGDOptions): void {
    let d = h.weightDecay !== 0 ? grad.add(p, h.weightDecay) : grad;
    if (h.momentum !== 0) {
      let buf = s.buffers['momentum_buffer'];
      // NOTE: the first buffer is d itself, undamped, as PyTorch.
      if (buf === undefined) buf = s.buffers['momentum_buffer'] = keep(d.clone());
      else buf.mul_(h.momentum).add_(d, 1 - h.dampening);
      d = h.nesterov ? d.add(buf, h.momentum) : buf;
    }
    p.add_(d, -h.lr);
  }
}
