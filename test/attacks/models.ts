// Plain functional models for attack tests (no dependency on src/nn).
import { Tensor, tensor, rand, randn, manualSeed, keep, tidy } from '../../src/tensor/index.js';
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

/** The analytic linear problem of attacks.md §10.2 (float64, d = 25 as [1, 5, 5]). */
export interface LinearProblem {
  model: Model;
  W: Tensor;
  b: Tensor;
  /** [n, 1, 5, 5] in [0.3, 0.7]: the box never binds. */
  X: Tensor;
  /** Labels = clean predictions. */
  Y: Tensor;
  /** Exact minimal distance to the decision boundary per point: min_{j≠y} (z_y − z_j) / ‖w_y − w_j‖_dual. */
  r: Record<'Linf' | 'L2', number[]>;
}

/** K classes with boundaries near the centre 0.5; n points. */
export function linearProblem(K: number, n: number, seed: number): LinearProblem {
  const D = 25;
  manualSeed(seed);
  const W = keep(randn([K, D], 'float64'));
  const b = keep(W.matmul(rand([D], 'float64').mul(0.1).add(0.45)).neg());
  const X = keep(rand([n, 1, 5, 5], 'float64').mul(0.4).add(0.3));
  const model = linearModel(W, b);
  const z = tidy(() => model.forward(X).toArray());
  const Y = keep(tidy(() => model.forward(X).argmax(1)));
  const ys = Y.toArray();
  const w = W.toArray();
  const r = { Linf: [] as number[], L2: [] as number[] };
  for (const [norm, q] of [
    ['Linf', 1], // dual of Linf is L1
    ['L2', 2],
  ] as const)
    ys.forEach((y, i) => {
      let best = Infinity;
      for (let j = 0; j < K; j++) {
        if (j === y) continue;
        let nrm = 0;
        for (let k = 0; k < D; k++) nrm += Math.abs(w[y * D + k]! - w[j * D + k]!) ** q;
        best = Math.min(best, (z[i * K + y]! - z[i * K + j]!) / nrm ** (1 / q));
      }
      r[norm].push(best);
    });
  return { model, W, b, X, Y, r };
}

/** eps halfway between the two middle r values (exact robust accuracy 50 %), and the gap around it. */
export function medianEps(r: number[]): { eps: number; gap: number } {
  const s = r.slice().sort((a, c) => a - c);
  const m = s.length / 2;
  return { eps: (s[m - 1]! + s[m]!) / 2, gap: s[m]! - s[m - 1]! };
}
