// The JSON shapes a robustness run writes to its folder, shared by the writers
// (`carso eval`, `carso demo`) and the reader (`carso report`):
//   <run>/eval.json    EvalResult   one model (or a classifier + its CARSO) under attack
//   <run>/sweep.json   Sweep        robust accuracy versus eps, per model
//   <run>/grid.json    ImageGrid    a few points: clean, adversarial, reconstructions
// Every accuracy is a count with its 95% Wilson interval (stats.ts).
import type { StopReason } from '../attacks/stop.js';
import type { CheckWarning } from './checks.js';
import type { CountWithInterval, Interval, PairedDifference } from './stats.js';

/**
 * How a randomised defence is evaluated (issue 13):
 *   paper   as the reference evaluates CARSO: the reference float32 aggregation (peel-reference),
 *           AutoAttack rand with the original code's NaN semantics and warnings, one fresh draw
 *           per point for the final judgement, no diagnostics;
 *   honest  carso's own: the numerically stable aggregation, worst of R draws per point,
 *           gradient-masking diagnostics.
 * Both share the classifier's stages.
 */
export type Protocol = 'paper' | 'honest';
export const PROTOCOLS: readonly Protocol[] = ['paper', 'honest'];

/**
 * Per-point evidence of gradient masking, in point order (evidence.ts, the verdict's
 * last columns). Clean-input fields come from an entry on clean points, attack fields
 * from an entry under attack.
 */
export interface PointEvidence {
  /** One draw at the clean input: the model's output holds a NaN/Inf. */
  outputNonFinite?: boolean[];
  /** One draw at the clean input: the CE loss's input gradient holds a NaN/Inf or is zero everywhere. */
  gradientCe?: boolean[];
  /** The same for the DLR loss (AutoAttack's second; absent with fewer than 3 classes). */
  gradientDlr?: boolean[];
  /** Some attack met a NaN/Inf loss or gradient on the point. */
  attackNonFinite?: boolean[];
  /** Why an attack stopped attacking the point early (attacks/stop.ts), or null. */
  stopped?: (StopReason | null)[];
  /** The largest Linf distance a gradient attack's iterate reached from its start (null: none ran on the point). */
  moved?: (number | null)[];
}

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
  /** The protocol it belongs to (CARSO entries); absent for the classifier's, which both share. */
  protocol?: Protocol;
  /** E.g. 'clean', 'autoattack-standard', 'autoattack-rand', 'pgd-eot', 'eps-0.95'. */
  attack: string;
  eps: number;
  /** The number reported: worst-of-R for stochastic models under the honest protocol, else the single draw. */
  accuracy: CountWithInterval;
  /** Per point (in order): counted correct by `accuracy` (for paired comparisons and merging shards). */
  points?: boolean[];
  /** Stochastic models: the three final-evaluation numbers. */
  stochastic?: StochasticAccuracy;
  perAttack?: AttackRow[];
  seconds: number;
  /** Free-form settings (EOT samples, steps, step size, ...). */
  settings?: Record<string, number | string | boolean>;
  evidence?: PointEvidence;
}

/** How an entry is named in comparisons, merges and the verdict: 'carso autoattack-rand (paper)'. */
export const entryLabel = (e: Pick<EvalEntry, 'model' | 'attack' | 'protocol'>): string =>
  `${e.model} ${e.attack}${e.protocol === undefined ? '' : ` (${e.protocol})`}`;

/** The three rows of the verdict (verdict.ts). */
export type VerdictId = 'classifier' | 'carso-paper' | 'carso-honest';

/** The verdict's masking evidence for one row, counted from PointEvidence. */
export interface VerdictEvidence {
  /** Points evaluated. */
  n: number;
  /** Points whose output at the clean input was NaN/Inf (null: not measured). */
  outputNonFinite: number | null;
  /** Points with a NaN/Inf or all-zero input gradient at the clean input, for CE and for DLR. */
  gradientCe: number | null;
  gradientDlr: number | null;
  /** Points some gradient attack ran on (clean-correct ones). */
  attacked: number;
  /** Of those, points where an attack met NaN/Inf, and points it stopped attacking for that. */
  attackNonFinite: number | null;
  stopped: number | null;
  /** Mean over the attacked points of the largest Linf distance an iterate reached from its start (0: never moved). */
  meanMoved: number | null;
}

/** One row of the verdict: how robust, compared with the classifier, and how much of it is masking. */
export interface VerdictRow {
  id: VerdictId;
  /** E.g. 'classifier alone, AutoAttack standard'. */
  label: string;
  /** The entry it reports (entryLabel). */
  entry: string;
  accuracy: CountWithInterval;
  /** Paired on the same points: this row's accuracy minus the classifier's (null on the classifier's row). */
  vsClassifier: PairedDifference | null;
  evidence: VerdictEvidence;
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
  format: 'carso-eval/2';
  dataset: string;
  /** Test-set indices [first, first + n). */
  first: number;
  n: number;
  norm: 'Linf' | 'L2' | 'L1';
  eps: number;
  seed: number;
  /** The protocols evaluated, in the order they ran. */
  protocols: Protocol[];
  /** Draws per point of the honest protocol's final evaluation (the paper's is 1). */
  finalEvals: number;
  /** The headline (verdict.ts): classifier, CARSO as the paper evaluates it, CARSO evaluated honestly. */
  verdict: VerdictRow[];
  entries: EvalEntry[];
  comparisons: Comparison[];
  diagnostics: Diagnostic[];
  /** AutoAttack's own checks that fired. */
  warnings: CheckWarning[];
  /** Robust accuracy against EOT samples (honest protocol), on a subset. */
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
