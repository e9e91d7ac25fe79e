// Uncertainty of accuracies: every accuracy is a count k of n, reported with a
// 95% Wilson score interval (well behaved at k = 0 and k = n, unlike Wald's).

/** z for a two-sided 95% interval. */
export const Z95 = 1.959963984540054;

export interface Interval {
  lo: number;
  hi: number;
}

/** The Wilson score interval for k successes in n trials (n > 0). */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!(Number.isInteger(k) && Number.isInteger(n) && n > 0 && k >= 0 && k <= n))
    throw new Error(`wilson: need integers 0 <= k <= n, n > 0 (got k=${k}, n=${n})`);
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // NOTE: in exact arithmetic k = 0 gives lo = 0 and k = n gives hi = 1; set them
  // exactly rather than trust the rounding of center ∓ half.
  return { lo: k === 0 ? 0 : Math.max(0, center - half), hi: k === n ? 1 : Math.min(1, center + half) };
}

export interface CountWithInterval {
  correct: number;
  total: number;
  accuracy: number;
  /** 95% Wilson interval of the accuracy. */
  ci95: Interval;
}

export function countWithInterval(correct: number, total: number): CountWithInterval {
  return { correct, total, accuracy: correct / Math.max(1, total), ci95: total > 0 ? wilson(correct, total) : { lo: 0, hi: 1 } };
}
