// The main table as data, for report.json: each entry's numbers with the exact
// text the markdown and HTML print for them.
import type { EvalResult, Protocol } from '../result.js';
import type { CountWithInterval } from '../stats.js';
import { countText, percent } from './format.js';

export type CountWithText = CountWithInterval & { text: string };

export interface SummaryRow {
  model: string;
  /** The protocol of a CARSO entry (null: the classifier's, shared). */
  protocol: Protocol | null;
  attack: string;
  eps: number;
  /** The number reported (worst-of-R for stochastic models under the honest protocol). */
  accuracy: CountWithText;
  stochastic: {
    draws: number;
    single: CountWithText;
    meanOverR: { accuracy: number; text: string };
    worstOfR: CountWithText;
  } | null;
  seconds: number;
}

/** The model column: 'carso (paper)', 'classifier'. */
export const modelText = (r: Pick<SummaryRow, 'model' | 'protocol'>): string =>
  r.protocol === null ? r.model : `${r.model} (${r.protocol})`;

const withText = (c: CountWithInterval): CountWithText => ({ ...c, text: countText(c) });

export function summarize(e: EvalResult): SummaryRow[] {
  return e.entries.map((x) => ({
    model: x.model,
    protocol: x.protocol ?? null,
    attack: x.attack,
    eps: x.eps,
    accuracy: withText(x.accuracy),
    stochastic: x.stochastic
      ? {
          draws: x.stochastic.draws,
          single: withText(x.stochastic.single),
          meanOverR: { accuracy: x.stochastic.meanOverR.accuracy, text: `${percent(x.stochastic.meanOverR.accuracy)}%` },
          worstOfR: withText(x.stochastic.worstOfR),
        }
      : null,
    seconds: x.seconds,
  }));
}
