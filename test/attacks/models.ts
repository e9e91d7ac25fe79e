// Plain functional models for attack tests (no dependency on src/nn).
import { Tensor, tensor, randn, manualSeed, keep } from '../../src/tensor/index.js';
import type { Model } from '../../src/attacks/types.js';

/** Row-major [rows, cols] float64 tensor from f(i, j). */
function table(rows: number, cols: number, f: (i: number, j: number) => number): Tensor {
  return keep(
    tensor(
      Array.from({ length: rows * cols }, (_, k) => f(Math.floor(k / cols), k % cols)),
      [rows, cols],
      'float64',
    ),
  );
}

/**
 * The golden tiny model of attacks_golden.py: 8 -> 12 tanh -> 5, float64,
 * with +0.8 on the logits of classes 2 and 1 (the clean predictions of X).
 */
export function tinyModel(): { model: Model; X: Tensor; Y: Tensor } {
  const W1 = table(12, 8, (i, j) => 5 * Math.sin(1 + i * 8 + j));
  const b1 = table(1, 12, (_, i) => 0.5 * Math.cos(i));
  const W2 = table(5, 12, (c, i) => 0.7 * Math.cos(1 + c * 12 + i));
  const b2 = table(1, 5, (_, c) => (c === 2 || c === 1 ? 0.8 : 0));
  const X = table(2, 8, (b, j) => (b === 0 ? (j + 1) / 10 : (((7 * j) % 8) + 0.5) / 8));
  const Y = keep(tensor([2, 1], [2], 'int64'));
  const model: Model = {
    stochastic: false,
    // NOTE: computes in float64 whatever the input dtype (as the extra goldens' float32 runs)
    forward: (x) =>
      x.reshape(x.size(0), -1).to('float64').matmul(W1.transpose(0, 1)).add(b1).tanh().matmul(W2.transpose(0, 1)).add(b2),
  };
  return { model, X, Y };
}

/** f(x) = W·flatten(x) + b with W: [K, d], b: [K] (float64). */
export function linearModel(W: Tensor, b: Tensor): Model {
  return { stochastic: false, forward: (x) => x.reshape(x.size(0), -1).linear(W, b) };
}

/** A small random conv net on [B, 1, 8, 8] (float32): conv 4@3x3 -> relu -> linear -> K. */
export function convNet(K = 4, seed = 1): Model {
  manualSeed(seed);
  const w1 = keep(randn([4, 1, 3, 3]).mul(0.6));
  const b1 = keep(randn([4]).mul(0.1));
  const w2 = keep(randn([K, 4 * 6 * 6]).mul(0.15));
  const b2 = keep(randn([K]).mul(0.1));
  return { stochastic: false, forward: (x) => x.conv2d(w1, b1).relu().flatten(1).linear(w2, b2) };
}
