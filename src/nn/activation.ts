// Elementwise activation modules (shape-preserving, no parameters).
import type { Tensor } from '../tensor/index.js';
import { Module } from './module.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}

/** x * sigmoid(x) (a.k.a. swish). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return x.silu();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/** log(1 + exp(beta x)) / beta, linear where beta x > threshold (as PyTorch). */
export class Softplus extends Module {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.softplus(this.beta, this.threshold);
  }
}
