// Batch normalisation (torch.nn.BatchNorm1d / BatchNorm2d) with PyTorch's
// buffers: running_mean, running_var, num_batches_tracked (int64).
import { cat, noGrad, ones, op, tensor, zeros, type Tensor } from '../tensor/index.js';
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

const ADDCMUL = op('addcmul');

abstract class BatchNorm extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  /**
   * SyncBatchNorm: a differentiable gather over the processes of a data-parallel
   * run, t: [k] -> [processes, k] by process (src/dist/ddp.ts sets it);
   * training-mode statistics are then those of the global batch. Null: this
   * process's batch only.
   */
  crossBatch: ((t: Tensor) => Tensor) | null = null;
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
    if (this.training && this.crossBatch !== null)
      return this.syncForward(x, weight ?? null, bias ?? null, mean ?? null, variance ?? null, factor);
    // NOTE: as PyTorch, batch statistics are used in eval mode too when no running statistics are tracked.
    return x.batchNorm(weight, bias, mean ?? null, variance ?? null, this.training || !mean, factor, this.eps);
  }

  /**
   * Training mode over the global batch (torch.nn.SyncBatchNorm): each process
   * takes its rows' mean and centred sum of squares (two passes, as aten's
   * batch_norm, rather than E[x²] − E[x]², which cancels in float32), one
   * gather brings (rows, mean, sum of squares) from every process, and they
   * combine as Chan et al.'s parallel variance. The gather's backward sums the
   * statistics' gradients over the processes: one collective per layer forward
   * and one backward, as PyTorch's (each waits for the slower process; on 2
   * busy cores one costs ~2 ms unpinned, ~0.8 ms pinned: bench/collective).
   */
  private syncForward(
    x: Tensor,
    weight: Tensor | null,
    bias: Tensor | null,
    runMean: Tensor | null,
    runVar: Tensor | null,
    factor: number,
  ): Tensor {
    const gather = this.crossBatch as (t: Tensor) => Tensor;
    const C = this.numFeatures;
    const dims = [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
    const shape = [1, C, ...Array.from({ length: x.ndim - 2 }, () => 1)];
    const m = x.mean(dims);
    const m2 = x
      .sub(m.view(...shape))
      .square()
      .sum(dims);
    const all = gather(cat([tensor([x.numel / C], [1], x.dtype, x.device), m, m2], 0)); // [P, 1 + 2C]
    const rows = all.narrow(1, 0, 1);
    const n = rows.sum().item();
    const means = all.narrow(1, 1, C);
    const mean = means.mul(rows).sum(0).div(n);
    const variance = all
      .narrow(1, 1 + C, C)
      .sum(0)
      .add(means.sub(mean).square().mul(rows).sum(0))
      .div(n); // biased, as the normalisation uses
    noGrad(() => {
      if (runMean) runMean.mul_(1 - factor).add_(mean.detach(), factor);
      if (runVar) runVar.mul_(1 - factor).add_(variance.detach(), (factor * n) / Math.max(1, n - 1)); // unbiased
    });
    // y = x a + (bias − mean a), a = weight / sqrt(var + eps): aten's CPU kernel's form, one pass over x
    const inv = variance.add(this.eps).rsqrt();
    const a = weight ? inv.mul(weight) : inv;
    const shift = bias ? bias.sub(mean.mul(a)) : mean.mul(a).neg();
    return ADDCMUL.t(shift.view(...shape), x, a.view(...shape), 1);
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
