// The base of Linear and the convolutions: a weight and an optional bias with
// PyTorch's default initialisation (see defaultLayerInit).
import type { Tensor } from '../tensor/index.js';
import { defaultLayerInit } from './init.js';
import { Module } from './module.js';

export abstract class WeightedModule extends Module {
  /** Draws the weight, then the bias ([biasSize], absent when withBias is false), as PyTorch's reset_parameters. */
  constructor(weightShape: readonly number[], withBias: boolean, biasSize: number) {
    super();
    const [w, b] = defaultLayerInit(weightShape, withBias, biasSize);
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }

  get weight(): Tensor {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.optional('bias', 'param');
  }
}
