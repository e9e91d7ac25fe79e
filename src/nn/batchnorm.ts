// Batch normalisation (torch.nn.BatchNorm1d / BatchNorm2d) with PyTorch's
// buffers: running_mean, running_var, num_batches_tracked (int64).
import { noGrad, ones, zeros, type Tensor } from '../tensor/index.js';
import { Module } from './module.js';

export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Running-stat update weight (default 0.1); null = cumulative average 1/num_batches_tracked. */
  momentum?: number | null;
  /** Learnable per-channel weight (init 1) and bias (init 0) (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); false = batch stats always. */
  trackRunningStats?: boolean;
}

abstract class BatchNorm extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  /** Input ranks this variant accepts, and how to describe them in errors. */
  protected abstract readonly ranks: readonly number[];
  protected abstract readonly layout: string;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormOptions = {},
  ) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    const affine = opts.affine ?? true;
    const track = opts.trackRunningStats ?? true;
    this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    this.registerBuffer('running_mean', track ? zeros([numFeatures]) : null);
    this.registerBuffer('running_var', track ? ones([numFeatures]) : null);
    this.registerBuffer('num_batches_tracked', track ? zeros([], 'int64') : null);
  }

  /**
   * Train mode: normalise with the batch statistics and update the running ones
   * (r <- (1 - m) r + m * batch, unbiased variance). Eval mode: running statistics.
   */
  forward(x: Tensor): Tensor {
    if (!this.ranks.includes(x.ndim) || x.size(1) !== this.numFeatures)
      throw new Error(
        `${this.constructor.name}(${this.numFeatures}): expected input ${this.layout} with C=${this.numFeatures}, got [${x.shape.join(', ')}]`,
      );
    const [mean, variance, count] = (['running_mean', 'running_var', 'num_batches_tracked'] as const).map((n) =>
      this.optional(n, 'buffer'),
    );
    let factor = this.momentum ?? 0;
    if (this.training && count) {
      noGrad(() => count.add_(1));
      if (this.momentum === null) factor = 1 / count.item();
    }
    const weight = this.optional('weight', 'param');
    const bias = this.optional('bias', 'param');
    // NOTE: as PyTorch, batch statistics are used in eval mode too when no running statistics are tracked.
    return x.batchNorm(weight, bias, mean ?? null, variance ?? null, this.training || !mean, factor, this.eps);
  }
}

/** x: [B, C] or [B, C, L]; statistics per channel C. */
export class BatchNorm1d extends BatchNorm {
  protected readonly ranks = [2, 3];
  protected readonly layout = '[B, C] or [B, C, L]';
}

/** x: [B, C, H, W]; statistics per channel C. */
export class BatchNorm2d extends BatchNorm {
  protected readonly ranks = [4];
  protected readonly layout = '[B, C, H, W]';
}
