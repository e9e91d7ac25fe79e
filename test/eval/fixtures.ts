// Small models and data for the AutoAttack tests (fast: 8x8 images, K = 5).
import { Tensor, keep, manualSeed, noGrad, rand, randnLike, tensor, tidy } from '../../src/tensor/index.js';
import type { AttackOptions, Model } from '../../src/attacks/index.js';
import type { AutoAttackResult } from '../../src/eval/autoattack.js';
import { convNet } from '../attacks/models.js';

export { convNet, linearModel } from '../attacks/models.js';

/** n points [n, 1, 8, 8] for `model`: every 4th label is wrong (a clean misclassification), the rest are its predictions. */
export function points(model: Model, n: number, seed = 7, K = 5): { X: Tensor; Y: Tensor; wrong: number[] } {
  manualSeed(seed);
  const X = keep(rand([n, 1, 8, 8]));
  const clean = noGrad(() => tidy(() => model.forward(X).argmax(1).toArray()));
  const wrong = clean.flatMap((_, i) => (i % 4 === 0 ? [i] : []));
  const Y = keep(
    tensor(
      clean.map((p, i) => (i % 4 === 0 ? (p + 1) % K : p)),
      [n],
      'int64',
    ),
  );
  return { X, Y, wrong };
}

/** The K = 5 conv net of the bookkeeping tests. */
export const net = (): Model => convNet(5, 7); // NOTE: seed 7 predicts all five classes on these points

/** AutoAttack 'standard' cut down to run in about a second on the 8x8 net (targets = K − 1 = 4). */
export const QUICK: Record<string, Partial<AttackOptions>> = {
  'apgd-ce': { nIter: 10 },
  'apgd-dlr': { nIter: 10 },
  'apgd-t': { nIter: 10, nTargetClasses: 4 },
  'fab-t': { nIter: 10, nTargetClasses: 4 },
  fab: { nIter: 10 },
  square: { nQueries: 100 },
};

/** A randomised defence: the net's logits plus fresh Gaussian noise (libtorch's RNG) on every call. */
export function noisy(base: Model, sigma = 0.5): Model {
  return {
    stochastic: true,
    forward: (x) => {
      const z = base.forward(x);
      return z.add(randnLike(z).mul(sigma));
    },
  };
}

/** Everything of a result that must not depend on an interruption (times excluded). */
export function comparable(r: AutoAttackResult): unknown {
  const { xAdv, perAttack, ...rest } = r;
  return {
    ...rest,
    resumed: null,
    perAttack: perAttack.map(({ seconds: _s, ...a }) => a),
    xAdv: Array.from(xAdv.toFloat64Array()),
  };
}

/** Silences check warnings in tests (they are asserted through result.warnings). */
export const quiet = { onWarning: (): void => {} };
