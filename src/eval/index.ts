// Evaluation: AutoAttack and attack cascades, final evaluation of stochastic
// models, intervals, gradient-masking diagnostics, eps sweeps and reports.
export {
  runAutoAttack,
  runAttacks,
  runIndividual,
  autoAttackPlan,
  VERSIONS,
  type AutoAttackOptions,
  type AutoAttackResult,
  type AutoAttackVersion,
  type AttackSpec,
  type CascadeEvent,
} from './autoattack.js';
export { accuracy, correctness, range } from './accuracy.js';
export { finalEvaluation, type FinalEvaluation } from './final.js';
export {
  wilson,
  countWithInterval,
  pairedDifference,
  type CountWithInterval,
  type Interval,
  type PairedDifference,
} from './stats.js';
export * as diagnostics from './diagnostics.js';
export { runSweep, type SweepModel, type SweepOptions } from './sweep.js';
export { writeReport, type ReportPaths } from './report.js';
export type * from './result.js';
export { PROTOCOLS, entryLabel } from './result.js';
export { verdictOf, verdictText } from './verdict.js';
export { cleanEvidence, gradientStatus, outputNonFinite } from './evidence.js';
export { runStages, checkPlan, stageSeed, StageResults, type Stage, type StageFiles, type WarningLog } from './stages.js';
export { mergeEvals } from './merge.js';
export { compareEvals, compareTable, type CompareOptions, type CompareRow, type LabelledEval } from './compare.js';
