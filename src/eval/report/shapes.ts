// Shapes of the run files (result.ts) for util/shape.ts: every field is
// checked, plus the rules across fields the report relies on (a count within
// its total, one accuracy per eps, images of C·H·W pixels, labels that name a class).
import type { CheckWarning } from '../checks.js';
import type {
  AttackRow,
  Comparison,
  Diagnostic,
  EvalEntry,
  EvalResult,
  ImageGrid,
  PointEvidence,
  Sweep,
  VerdictEvidence,
  VerdictRow,
} from '../result.js';
import type { CountWithInterval, Interval, PairedDifference } from '../stats.js';
import {
  array,
  boolean,
  integer,
  literal,
  nullable,
  number,
  object,
  optional,
  record,
  refine,
  scalar,
  string,
  type Shape,
} from '../../util/shape.js';

const interval = object<Interval>({ lo: number, hi: number });
const count = refine(object<CountWithInterval>({ correct: integer, total: integer, accuracy: number, ci95: interval }), (c) =>
  c.correct >= 0 && c.correct <= c.total ? null : `correct ${c.correct} is not in [0, total ${c.total}]`,
);
const attackRow = object<AttackRow>({ name: string, robust: integer, total: integer, seconds: number, queries: number });
const evidence = object<PointEvidence>({
  outputNonFinite: optional(array(boolean)),
  gradientCe: optional(array(boolean)),
  gradientDlr: optional(array(boolean)),
  attackNonFinite: optional(array(boolean)),
  stopped: optional(array(nullable(literal('non-finite-gradients')))),
  moved: optional(array(nullable(number))),
});
const protocol = literal('paper', 'honest');
const entry = object<EvalEntry>({
  model: string,
  protocol: optional(protocol),
  attack: string,
  eps: number,
  accuracy: count,
  points: optional(array(boolean)),
  stochastic: optional(object({ draws: integer, single: count, meanOverR: object({ accuracy: number }), worstOfR: count })),
  perAttack: optional(array(attackRow)),
  seconds: number,
  settings: optional(record(scalar)),
  evidence: optional(evidence),
});
const difference = object<PairedDifference>({
  difference: number,
  ci95: interval,
  aOnly: integer,
  bOnly: integer,
  total: integer,
});
const verdictEvidence = object<VerdictEvidence>({
  n: integer,
  outputNonFinite: nullable(integer),
  gradientCe: nullable(integer),
  gradientDlr: nullable(integer),
  attacked: integer,
  attackNonFinite: nullable(integer),
  stopped: nullable(integer),
  meanMoved: nullable(number),
});
const verdictRow = object<VerdictRow>({
  id: literal('classifier', 'carso-paper', 'carso-honest'),
  label: string,
  entry: string,
  accuracy: count,
  vsClassifier: nullable(difference),
  evidence: verdictEvidence,
});
const comparison = object<Comparison>({
  a: string,
  b: string,
  difference: number,
  ci95: interval,
  aOnly: integer,
  bOnly: integer,
  total: integer,
});
const diagnostic = object<Diagnostic>({
  check: string,
  fired: boolean,
  message: string,
});
// NOTE: a warning's check name is only printed, so any string is taken (a newer writer may add checks).
const warning = object<CheckWarning>({ check: string as Shape<CheckWarning['check']>, message: string });

export const evalResult = object<EvalResult>({
  format: literal('carso-eval/2'),
  dataset: string,
  first: integer,
  n: integer,
  norm: literal('Linf', 'L2', 'L1'),
  eps: number,
  seed: integer,
  protocols: array(protocol),
  finalEvals: integer,
  verdict: array(verdictRow),
  entries: array(entry),
  comparisons: array(comparison),
  diagnostics: array(diagnostic),
  warnings: array(warning),
  eotConvergence: optional(
    refine(object({ n: integer, eot: array(integer), accuracy: array(count) }), (e) =>
      e.eot.length === e.accuracy.length ? null : `${e.eot.length} EOT values but ${e.accuracy.length} accuracies`,
    ),
  ),
  settings: record(scalar),
  versions: record(string),
  seconds: number,
});

export const sweep = refine(
  object<Sweep>({
    format: literal('carso-sweep/1'),
    attack: string,
    n: integer,
    eps: array(number),
    curves: array(object({ model: string, accuracy: array(count) })),
    seconds: number,
  }),
  (s) => {
    const bad = s.curves.find((c) => c.accuracy.length !== s.eps.length);
    return bad ? `curve '${bad.model}' has ${bad.accuracy.length} points for ${s.eps.length} eps values` : null;
  },
);

type GridPoint = ImageGrid['points'][number];
const gridPoint = object<GridPoint>({
  index: integer,
  label: integer,
  clean: array(number),
  adversarial: array(number),
  reconstructions: array(array(number)),
  predictedClean: integer,
  predictedAdversarialClassifier: integer,
  predictedAdversarialCarso: integer,
});
export const grid = refine(
  object<ImageGrid>({
    format: literal('carso-grid/1'),
    classNames: array(string),
    channels: integer,
    size: integer,
    eps: number,
    points: array(gridPoint),
  }),
  gridRule,
);

/** Images of C·H·W values in [0, 1] (C = 1 or 3) and labels that name a class. */
function gridRule(g: ImageGrid): string | null {
  if (g.channels !== 1 && g.channels !== 3) return `channels must be 1 or 3, got ${g.channels}`;
  if (g.size < 1) return `size must be >= 1, got ${g.size}`;
  const pixels = g.channels * g.size * g.size;
  for (const [i, p] of g.points.entries()) {
    const images = [p.clean, p.adversarial, ...p.reconstructions];
    if (images.some((im) => im.length !== pixels)) return `points[${i}]: an image does not have C·H·W = ${pixels} values`;
    if (images.some((im) => im.some((v) => v < 0 || v > 1))) return `points[${i}]: a pixel value is outside [0, 1]`;
    const labels = [p.label, p.predictedClean, p.predictedAdversarialClassifier, p.predictedAdversarialCarso];
    if (labels.some((l) => l < 0 || l >= g.classNames.length))
      return `points[${i}]: a label is not a class index in [0, ${g.classNames.length})`;
  }
  return null;
}
