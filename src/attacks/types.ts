// The shapes every attack shares (torchattacks-style): attack(model, x, y, opts) -> result.
import type { Tensor } from '../tensor/index.js';
import type { StopReason } from './stop.js';

/**
 * What attacks see of a classifier: a differentiable map from images to
 * logits. No assumption that it is one network (CARSO is a pipeline).
 */
export interface Model {
  /** x: [B, C, H, W] float32 in [0, 1] -> logits [B, K]; differentiable w.r.t. x. */
  forward(x: Tensor): Tensor;
  /** True when two calls on the same input may differ (randomised defences): attacks use EOT. */
  readonly stochastic: boolean;
  /**
   * Optional, stochastic models: `draws` independent forward passes in one
   * batched call, logits [draws, B, K] (EOT then takes one call instead of
   * `draws`; eot.ts). A model implements it when it can share work between
   * draws (CARSO: the classifier's pass on x and the condition vector).
   */
  forwardDraws?(x: Tensor, draws: number): Tensor;
  /** Most draws per forwardDraws call for a batch of `batch` inputs (memory), default all. */
  drawsPerCall?(batch: number): number;
}

export type Norm = 'Linf' | 'L2' | 'L1';

/** Per-call result of an attack. Tensors are owned by the caller (dispose them). */
export interface AttackResult {
  /** [B, C, H, W] in [0, 1], inside the eps-ball of x in the chosen norm. */
  xAdv: Tensor;
  /** Per point: true when xAdv is misclassified (untargeted) at the attack's last check. */
  success: boolean[];
  /** Per point: true when a NaN/Inf gradient or loss was seen (robustness not established). */
  nanGrad: boolean[];
  /**
   * Gradient attacks (APGD, PGD), per point: the largest distance, in the attack's norm, any
   * iterate reached from its start point (0: the attack never moved it; null: not attacked).
   */
  moved?: (number | null)[];
  /** Per point: why the attack stopped attacking it before its budget was spent (stop.ts), or null. */
  stopped?: (StopReason | null)[];
  /** Model forward passes (queries) spent, summed over points' batches. */
  queries: number;
}

export interface Attack {
  readonly name: string;
  readonly norm: Norm;
  readonly eps: number;
  /** x: [B, C, H, W] in [0, 1]; y: [B] int64 labels. */
  attack(model: Model, x: Tensor, y: Tensor): AttackResult;
}
