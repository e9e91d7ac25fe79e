// The JSON shapes a robustness run writes to its folder, shared by the writers
// (`carso eval`, `carso demo`) and the reader (`carso report`):
//   <run>/eval.json    EvalResult   one model (or a classifier + its CARSO) under attack
//   <run>/sweep.json   Sweep        robust accuracy versus eps, per model
//   <run>/grid.json    ImageGrid    a few points: clean, adversarial, reconstructions
// Every accuracy is a count with its 95% Wilson interval (stats.ts).
import type { CheckWarning } from './checks.js';
import type { CountWithInterval, Interval } from './stats.js';

/** Accuracy of a stochastic model on fixed inputs, three ways (final.ts). */
export interface StochasticAccuracy {
  /** Draws per point (R). */
  draws: number;
  /** Correct on the first draw: the original AutoAttack protocol. */
  single: CountWithInterval;
  /** Mean over the R draws of the per-draw accuracy. */
  meanOverR: { accuracy: number };
  /** Correct in all R draws: carso's headline number for stochastic models. */
  worstOfR: CountWithInterval;
}

/** One attack of a cascade as reported (a subset of AttackRecord). */
export interface AttackRow {
  name: string;
  /** Points still robust after it (cumulative worst case over the cascade so far). */
  robust: number;
  total: number;
  seconds: number;
  queries: number;
}

/** One evaluation line: a model under one attack (or clean). */
export interface EvalEntry {
  /** E.g. 'classifier', 'carso'. */
  model: string;
  /** E.g. 'clean', 'autoattack-standard', 'autoattack-rand', 'pgd-eot', 'eps-0.95'. */
  attack: string;
  eps: number;
  /** The number reported: worst-of-R for stochastic models under the strict protocol, else the single draw. */
  accuracy: CountWithInterval;
  /** Per point (in order): counted correct by `accuracy` (for paired comparisons and merging shards). */
  points?: boolean[];
  /** Stochastic models: the three final-evaluation numbers. */
  stochastic?: StochasticAccuracy;
  perAttack?: AttackRow[];
  seconds: number;
  /** Free-form settings (EOT samples, steps, step size, ...). */
  settings?: Record<string, number | string | boolean>;
}

/** A paired comparison on the same points: accuracy(a) - accuracy(b). */
export interface Comparison {
  a: string;
  b: string;
  difference: number;
  /** 95% interval of the paired difference (Newcombe's method 10 on the discordant pairs). */
  ci95: Interval;
  /** Discordant pairs: a right and b wrong, and the reverse. */
  aOnly: number;
  bOnly: number;
  total: number;
}

/** A gradient-masking (or other sanity) diagnostic, fired or not. */
export interface Diagnostic {
  check: string;
  fired: boolean;
  message: string;
}

export interface EvalResult {
  format: 'carso-eval/1';
  dataset: string;
  /** Test-set indices [first, first + n). */
  first: number;
  n: number;
  norm: 'Linf' | 'L2' | 'L1';
  eps: number;
  seed: number;
  protocol: 'reference' | 'strict';
  /** Draws per point of the final evaluation (1 under the reference protocol). */
  finalEvals: number;
  entries: EvalEntry[];
  comparisons: Comparison[];
  diagnostics: Diagnostic[];
  /** AutoAttack's own checks that fired. */
  warnings: CheckWarning[];
  /** Robust accuracy against EOT samples (strict protocol), on a subset. */
  eotConvergence?: { n: number; eot: number[]; accuracy: CountWithInterval[] };
  settings: Record<string, number | string | boolean>;
  versions: Record<string, string>;
  seconds: number;
}

/** Robust accuracy versus eps, one curve per model. */
export interface Sweep {
  format: 'carso-sweep/1';
  /** The attack used for every eps (said in the report: cheaper than the full evaluation). */
  attack: string;
  n: number;
  eps: number[];
  curves: { model: string; accuracy: CountWithInterval[] }[];
  seconds: number;
}

/** A few points to show: images are [C, H, W] flattened, values in [0, 1]. */
export interface ImageGrid {
  format: 'carso-grid/1';
  classNames: string[];
  channels: number;
  size: number;
  eps: number;
  points: {
    index: number;
    label: number;
    clean: number[];
    /** Adversarial example found against CARSO (end to end) and the labels predicted on it. */
    adversarial: number[];
    /** CARSO reconstructions of the adversarial example (one per shown latent sample). */
    reconstructions: number[][];
    predictedClean: number;
    predictedAdversarialClassifier: number;
    predictedAdversarialCarso: number;
  }[];
}
