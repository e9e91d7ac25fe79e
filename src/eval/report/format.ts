// How numbers are written in the report (markdown and HTML alike). Every
// figure is printed from a number in the run's JSON, never recomputed, so
// report.json and the text agree digit for digit.
import type { Comparison } from '../result.js';
import type { CountWithInterval } from '../stats.js';

/** A fraction as a percentage with one decimal, no sign: 0.8123 -> '81.2'. */
export const percent = (x: number): string => (100 * x).toFixed(1);

/** '812/1000 (81.2%, 95% CI 78.7–83.5%)'. */
export function countText(c: CountWithInterval): string {
  return `${c.correct}/${c.total} (${percent(c.accuracy)}%, 95% CI ${percent(c.ci95.lo)}–${percent(c.ci95.hi)}%)`;
}

/** Points left of a total, without an interval: '3/8 (37.5%)'. */
export const fractionText = (k: number, n: number): string => `${k}/${n} (${percent(k / Math.max(1, n))}%)`;

/** A difference of fractions in signed percentage points: 0.032 -> '+3.2'. */
const signed = (x: number): string => `${x >= 0 ? '+' : '-'}${percent(Math.abs(x))}`;

/** A paired difference: '+3.2 pp (95% CI -1.1 to +5.3 pp)'. */
export function differenceText(c: Comparison): string {
  return `${signed(c.difference)} pp (95% CI ${signed(c.ci95.lo)} to ${signed(c.ci95.hi)} pp)`;
}

/** An eps to 4 significant digits, with its k/255 form when that is what it was (8/255 -> '0.03137 (8/255)'). */
export function epsText(eps: number): string {
  const short = String(Number(eps.toPrecision(4)));
  const k = Math.round(eps * 255);
  // NOTE: 1e-9 absorbs the rounding of k/255 written as a decimal; a short decimal (0.2 = 51/255) stays as it is.
  return short !== String(eps) && Math.abs(eps * 255 - k) < 1e-9 ? `${short} (${k}/255)` : short;
}

/** Seconds as '12.3 s', '4 min 05 s' or '2 h 03 min'. */
export function durationText(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
