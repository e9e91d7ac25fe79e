// Aggregation of the per-sample logits of CARSO's reconstructions into one
// logit vector (carso.md 4.1; tooling/aggregation.py, ebtorch's lexsemble).
// Every function maps l: [N, B, K] (sample, batch, class) -> [B, K].
//
//   peel (default)   out_k = logit(p_k), p = softmax_k(S), S_k = sum_i exp(l_ik)
//                    the "doubly exponential" rule; argmax out = argmax S
//   logit            mean_i l_ik
//   prob             logit(mean_i sigmoid(l_ik))
//   count            sum_i floor(l_ik / max_j l_ij)  (the reference's vote-count ablation)
//
// `peel-reference` is lexsemble op for op: log(p / (1 - p)) of softmax(exp(l).sum(0)).
// It saturates in float32 (p rounds to 1 once S_top - S_second >~ 17, to 0 once
// the gap >~ 104): outputs become +-inf and attack losses NaN (carso.md 4.1).
// `peel` is the same function in a stable form, out_k = S_k - logsumexp_{j != k} S_j,
// equal to the reference wherever the reference is finite, and finite with
// finite gradients where it saturates. NOTE: the two differ in gradients exactly
// where the reference has none (NaN), so robust accuracies under attack are
// comparable only as "stable peel" vs "reference peel"; say which one is used.
//
//     peel(l)  // l: [8, B, 10] logits of 8 reconstructions -> [B, 10]
import { arange, op, tidy, type Tensor } from '../tensor/index.js';

export type Aggregation = 'peel' | 'peel-reference' | 'logit' | 'prob' | 'count';
export const AGGREGATIONS: readonly Aggregation[] = ['peel', 'peel-reference', 'logit', 'prob', 'count'];

const logSigmoid = op('log_sigmoid');

/**
 * NOTE: log S above which exp is continued linearly: S = e^c (1 + log S - c). At c = 80,
 * e^c = 5.5e34 leaves float32 headroom (max 3.4e38) for the sums and differences below;
 * the continuation is C1, increasing (argmax unchanged) and never overflows for any
 * logit a classifier produces. The reference is finite there only on exact ties among
 * the top classes (any float32 gap between two S ~ e^80 is >> 17), which the
 * continuation preserves, so the values still agree wherever the reference is finite.
 */
export const PEEL_LOG_CAP = 80;

function checkRank(l: Tensor, name: string): void {
  if (l.ndim !== 3) throw new Error(`${name}: expected logits [N, B, K], got [${l.shape.join(', ')}]`);
}

/** lexsemble as the reference computes it (float32 saturation included). */
export function peelReference(l: Tensor): Tensor {
  checkRank(l, 'peelReference');
  return tidy(() => {
    const p = l.exp().sum(0).softmax(-1);
    return p.div(p.rsub(1)).log();
  });
}

/** The stable peel: S_k - logsumexp_{j != k} S_j, with log S_k = logsumexp_i l_ik and S capped (PEEL_LOG_CAP). */
export function peel(l: Tensor): Tensor {
  checkRank(l, 'peel');
  const [, B, K] = l.shape as [number, number, number];
  if (K < 2) throw new Error('peel: needs at least 2 classes');
  return tidy(() => {
    // NOTE: log S by logsumexp over samples, so no single exp(l) overflows before the cap.
    const logS = l.logsumexp(0); // [B, K]
    const capped = logS.clamp(null, PEEL_LOG_CAP);
    const S = capped.exp().mul(logS.sub(capped).add(1)); // = exp(logS) below the cap
    // Row k of `others` holds S_j for j != k and -inf on the diagonal: [B, K, K].
    const idx = arange(0, K, 1, 'int64', l.device);
    const diag = idx.unsqueeze(0).eq(idx.unsqueeze(1));
    const others = S.unsqueeze(1).expand(B, K, K).maskedFill(diag, -Infinity);
    return S.sub(others.logsumexp(2));
  });
}

/** Mean of the logits over samples (the `logit` ablation). */
export function logitMean(l: Tensor): Tensor {
  checkRank(l, 'logitMean');
  return l.mean(0);
}

/**
 * logit(mean_i sigmoid(l_i)) (the `prob` ablation), computed in log space:
 * log r - log(1 - r) = logsumexp_i logsigmoid(l_i) - logsumexp_i logsigmoid(-l_i)
 * (the 1/N of both means cancels). NOTE: the reference's 1/(1 + exp(-l)) then
 * log(r / (1 - r)) is the same value but gives +-inf once every sample's |l| >~ 17.
 */
export function probMean(l: Tensor): Tensor {
  checkRank(l, 'probMean');
  return tidy(() => logSigmoid.t(l).logsumexp(0).sub(logSigmoid.t(l.neg()).logsumexp(0)));
}

/**
 * The `count` ablation (the reference's carsoeval_*_agg.sh for CIFAR), op for op:
 * sum_i floor(l_ik / max_j l_ij). NOTE: a vote count (1 for each sample's top class, 0 elsewhere)
 * only when every logit is positive; otherwise other integers enter (floor of a ratio of negative
 * or mixed-sign logits), as in the reference. Piecewise constant: zero input gradient.
 */
export function countVotes(l: Tensor): Tensor {
  checkRank(l, 'countVotes');
  return tidy(() =>
    l
      .div(l.amax([2], true))
      .floor()
      .sum(0),
  );
}

const FUNCTIONS: Record<Aggregation, (l: Tensor) => Tensor> = {
  peel,
  'peel-reference': peelReference,
  logit: logitMean,
  prob: probMean,
  count: countVotes,
};

/** l: [N, B, K] -> [B, K] by the named rule. */
export function aggregate(l: Tensor, how: Aggregation = 'peel'): Tensor {
  const f = FUNCTIONS[how];
  if (f === undefined) throw new Error(`unknown aggregation '${String(how)}' (valid: ${AGGREGATIONS.join(', ')})`);
  return f(l);
}
