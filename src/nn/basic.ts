// Parameter-free structural modules: Identity, Flatten, Dropout.
import type { Tensor } from '../tensor/index.js';
import { Module } from './module.js';

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flattens dims start..end into one; default [B, ...] -> [B, prod(...)]. */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** Train mode: zeroes each element with probability p and scales the rest by 1/(1-p). Eval: identity. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return x.dropout(this.p, this.training);
  }
}
