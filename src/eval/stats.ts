// Uncertainty of accuracies: every accuracy is a count k of n, reported with a
// 95% Wilson score interval (well behaved at k = 0 and k = n, unlike Wald's).

/** k of n as a percentage with one decimal, e.g. '58.5%' (n = 0 gives '0.0%'). */
export function percent(k: number, n: number): string {
  return `${((100 * k) / Math.max(1, n)).toFixed(1)}%`;
}

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

/** accuracy(a) - accuracy(b) on the same n points, with its 95% interval. */
export interface PairedDifference {
  difference: number;
  ci95: Interval;
  /** Discordant pairs: a right and b wrong, and the reverse. */
  aOnly: number;
  bOnly: number;
  total: number;
}

/**
 * Paired difference of two accuracies measured on the same points (a[i], b[i]:
 * correct on point i), with Newcombe's (1998) method 10 interval: the Wilson
 * intervals of both accuracies combined with a correction for their correlation.
 * Unlike two independent intervals it uses the pairing: two models that fail on
 * the same points differ by exactly 0 with a narrow interval.
 */
export function pairedDifference(a: readonly boolean[], b: readonly boolean[], z = Z95): PairedDifference {
  const n = a.length;
  if (n === 0 || b.length !== n) throw new Error(`pairedDifference: need two equal, non-empty lists (got ${n} and ${b.length})`);
  let [e, f, g, h] = [0, 0, 0, 0]; // both right, a only, b only, both wrong
  a.forEach((ai, i) => {
    const bi = b[i] as boolean;
    if (ai && bi) e++;
    else if (ai) f++;
    else if (bi) g++;
    else h++;
  });
  const p1 = (e + f) / n;
  const p2 = (e + g) / n;
  const w1 = wilson(e + f, n, z);
  const w2 = wilson(e + g, n, z);
  const A = (e + f) * (g + h) * (e + g) * (f + h);
  const B = e * h - f * g;
  const C = B > n / 2 ? B - n / 2 : B >= 0 ? 0 : B;
  const phi = A === 0 ? 0 : C / Math.sqrt(A);
  const [d1, u2] = [p1 - w1.lo, w2.hi - p2];
  const [u1, d2] = [w1.hi - p1, p2 - w2.lo];
  const delta = Math.sqrt(Math.max(0, d1 * d1 - 2 * phi * d1 * u2 + u2 * u2));
  const eps = Math.sqrt(Math.max(0, u1 * u1 - 2 * phi * u1 * d2 + d2 * d2));
  const diff = p1 - p2;
  return {
    difference: diff,
    ci95: { lo: Math.max(-1, diff - delta), hi: Math.min(1, diff + eps) },
    aOnly: f,
    bOnly: g,
    total: n,
  };
}
