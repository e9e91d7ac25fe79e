// Data-parallel training over a process group: every rank holds the whole
// model, runs forward and backward on its rows of the global batch, and the
// gradients are reduced before the optimiser steps, so every rank takes the
// same step — the one a single process would take on the global batch.
//
//   - parameters and buffers are broadcast from rank 0 once, at the start;
//   - gradients are reduced in buckets (flat copies of about 25 MB, as DDP's
//     default) after backward: 'mean' for a loss averaged over the batch (the
//     mean of the ranks' means over equal shards is the global mean), 'sum' for
//     a loss summed over the batch;
//   - BatchNorm layers in training mode normalise with the statistics of the
//     global batch (SyncBatchNorm): nn/batchnorm.ts gathers every rank's
//     statistics through the group's differentiable all-gather, so the
//     backward pass sums the statistics' gradients over the ranks too.
//
//     const dp = new DataParallel(model, group, 'mean');   // broadcasts the weights from rank 0
//     loss.backward(); dp.reduceGradients(); opt.step();
import type { Module } from '../nn/index.js';
import { BatchNorm1d, BatchNorm2d } from '../nn/index.js';
import { Tensor, cat, noGrad, tensor, tidy, zerosLike } from '../tensor/index.js';
import type { ProcessGroup } from './group.js';

/** DDP's default bucket size. */
export const BUCKET_BYTES = 25 * 2 ** 20;

export type GradientReduction = 'mean' | 'sum';

/** Rank 0's parameters and buffers to every rank (in place). */
export function broadcastModule(model: Module, group: ProcessGroup): void {
  noGrad(() => {
    for (const [, t] of [...model.namedParameters(), ...model.namedBuffers()]) group.broadcast(t, 0);
  });
}

/** Routes every BatchNorm's training-mode statistics through the group (null: back to local statistics). */
export function syncBatchNorm(model: Module, group: ProcessGroup | null): number {
  let n = 0;
  for (const [, m] of model.namedModules())
    if (m instanceof BatchNorm1d || m instanceof BatchNorm2d) {
      m.crossBatch = group === null ? null : (t: Tensor) => group.allGatherDiff(t);
      n++;
    }
  return n;
}

/** Parameters split into consecutive buckets of at most `bytes` of float32 (a larger parameter is a bucket of its own). */
export function buckets(params: readonly Tensor[], bytes = BUCKET_BYTES): Tensor[][] {
  const out: Tensor[][] = [];
  let size = Infinity;
  for (const p of params) {
    const b = p.numel * 4;
    if (size + b > bytes) {
      out.push([]);
      size = 0;
    }
    (out[out.length - 1] as Tensor[]).push(p);
    size += b;
  }
  return out;
}

/** Reduces the gradients of `params` over the group, bucket by bucket, in place. */
export function reduceGradients(
  params: readonly Tensor[],
  group: ProcessGroup,
  reduction: GradientReduction,
  bytes = BUCKET_BYTES,
): void {
  const scale = reduction === 'mean' ? 1 / group.size : 1;
  noGrad(() => {
    for (const bucket of buckets(params, bytes))
      tidy(() => {
        // NOTE: a parameter without a gradient adds zeros and keeps no gradient: every rank runs the same
        // graph, so the same parameters lack one everywhere.
        const flat = cat(
          bucket.map((p) => (p.grad ?? zerosLike(p)).reshape(-1)),
          0,
        );
        group.allReduce(flat);
        if (scale !== 1) flat.mul_(scale);
        let off = 0;
        for (const p of bucket) {
          const n = p.numel;
          p.grad?.copy_(flat.narrow(0, off, n).view(...p.shape));
          off += n;
        }
      });
  });
}

/** Elementwise sums of per-rank numbers (losses, counts) over the group, in float64. */
export function sumOver(group: ProcessGroup, values: readonly number[]): number[] {
  return tidy(() => {
    const t = tensor(values, [values.length], 'float64');
    group.allReduce(t);
    return t.toArray();
  });
}

/** A model trained data-parallel: weights from rank 0, SyncBatchNorm, gradient reduction after backward. */
export class DataParallel {
  readonly params: Tensor[];
  constructor(
    readonly model: Module,
    readonly group: ProcessGroup,
    readonly reduction: GradientReduction,
    readonly bucketBytes = BUCKET_BYTES,
  ) {
    this.params = model.parameters().filter((p) => p.requiresGrad);
    broadcastModule(model, group);
    syncBatchNorm(model, group);
  }

  reduceGradients(): void {
    reduceGradients(this.params, this.group, this.reduction, this.bucketBytes);
  }

  /** Turns SyncBatchNorm off again (the model is then an ordinary single-process model). */
  release(): void {
    syncBatchNorm(this.model, null);
  }
}
