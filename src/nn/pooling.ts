// 2-D pooling modules. x: [B, C, H, W] -> [B, C, H', W'].
import type { Tensor } from '../tensor/index.js';
import { Module } from './module.js';
import { pair, type Pair } from './conv.js';

/** Kernel, stride (defaults to the kernel, as PyTorch) and padding of a window pool. */
abstract class WindowPool2d extends Module {
  constructor(
    readonly kernel: Pair,
    readonly stride: Pair = kernel,
    readonly padding: Pair = 0,
  ) {
    super();
  }
  protected get windows(): [number[], number[], number[]] {
    return [pair(this.kernel), pair(this.stride), pair(this.padding)];
  }
}

export class MaxPool2d extends WindowPool2d {
  forward(x: Tensor): Tensor {
    return x.maxPool2d(...this.windows);
  }
}

/** Mean over windows (zero padding counted, PyTorch's default count_include_pad). */
export class AvgPool2d extends WindowPool2d {
  forward(x: Tensor): Tensor {
    return x.avgPool2d(...this.windows);
  }
}

/** Mean-pools to a fixed output size (1 = global average pooling). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.adaptiveAvgPool2d(pair(this.outputSize));
  }
}
