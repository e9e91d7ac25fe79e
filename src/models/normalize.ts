// Per-channel input standardisation inside a model, `(x - mean) / std`, with the
// constants held as plain numbers: like ebtorch's WideResNet (plain tensors,
// not buffers), they are not parameters and never appear in the state dict, so
// public weight files load unchanged.
import { tensor, tidy, type Tensor } from '../tensor/index.js';

/** Per-channel mean and standard deviation of the [0, 1] pixels. */
export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** Checks that `n` has one finite mean and one positive std per channel. */
export function checkNormalization(n: Normalization, channels: number, owner: string): void {
  if (n.mean.length !== channels || n.std.length !== channels)
    throw new Error(`${owner}: normalisation needs ${channels} means and stds, got ${n.mean.length} and ${n.std.length}`);
  if (!n.mean.every(Number.isFinite) || !n.std.every((s) => s > 0 && Number.isFinite(s)))
    throw new Error(`${owner}: normalisation needs finite means and positive stds, got ${JSON.stringify(n)}`);
}

/**
 * x: [B, C, H, W] -> (x - mean) / std per channel, or x itself for null.
 * NOTE: mean/std are made per call in x's dtype and device (C numbers: free next
 * to any convolution), so `to('float64')` / `toDevice` need no extra state.
 */
export function normalizeInput(x: Tensor, n: Normalization | null): Tensor {
  if (n === null) return x;
  const c = n.mean.length;
  if (x.ndim !== 4 || x.size(1) !== c) throw new Error(`normalizeInput: expected [B, ${c}, H, W], got [${x.shape.join(', ')}]`);
  return tidy(() => {
    const mean = tensor(n.mean, [c, 1, 1], x.dtype, x.device);
    const std = tensor(n.std, [c, 1, 1], x.dtype, x.device);
    return x.sub(mean).div(std);
  });
}
