// Fully connected layer (torch.nn.Linear): y = x W^T + b.
import type { Tensor } from '../tensor/index.js';
import { WeightedModule } from './weighted.js';

export class Linear extends WeightedModule {
  /** weight: [out, in]; bias: [out] (absent when `bias` is false); both U(+-1/sqrt(in)) as PyTorch. */
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    super([outFeatures, inFeatures], bias, outFeatures);
  }

  /** x: [..., in] -> [..., out] */
  forward(x: Tensor): Tensor {
    return x.linear(this.weight, this.bias);
  }
}
