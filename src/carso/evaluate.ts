// The CARSO evaluation (carso.md section 5, issue 13): a frozen classifier and the
// CARSO built on it, on the same points, under one or both protocols (eval/result.ts):
//
//   paper   as the reference evaluates CARSO: the reference float32 aggregation
//           (peel-reference), AutoAttack rand with the original code's NaN semantics
//           and warnings, one fresh draw per point for the final judgement;
//   honest  the stable aggregation, R fresh draws per point (worst-of-R is the
//           headline; single-draw and mean-over-R beside it), paired differences,
//           gradient-masking diagnostics.
//
// The work is a list of stage objects (stages.ts) run by one runner (eval/stages.ts);
// this file picks the stages of the chosen protocols, runs them, and assembles
// <out>/eval.json: the verdict first (eval/verdict.ts: classifier, CARSO as the paper
// evaluates it, CARSO evaluated honestly, with the masking evidence), then every
// entry with its per-point flags, the paired comparisons and the diagnostics; and
// grid.json. Interrupted runs resume (finished stages reload, attack cascades
// continue from their state); each stage is reused only with the same settings,
// data and weights.
//
//     const r = evaluateCarso(net, carso, x, y, { eps: 0.1, seed: 0, out: 'runs/e', dataset: 'fashion-mnist', first: 0 });
//     console.log(verdictText(r.verdict));
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { asModel } from '../attacks/index.js';
import type { Module } from '../nn/index.js';
import { noGrad, tidy, type Tensor } from '../tensor/index.js';
import type { CascadeEvent, CascadeShards } from '../eval/autoattack.js';
import type { CheckWarning } from '../eval/checks.js';
import * as diag from '../eval/diagnostics.js';
import {
  PROTOCOLS,
  entryLabel,
  type Comparison,
  type Diagnostic,
  type EvalEntry,
  type EvalResult,
  type Protocol,
} from '../eval/result.js';
import { runStages, stageSeed, type StageResults, type WarningLog } from '../eval/stages.js';
import { countWithInterval, pairedDifference } from '../eval/stats.js';
import { verdictOf } from '../eval/verdict.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Carso } from './carso.js';
import { writeGrid } from './grid.js';
import {
  EOT_SAMPLES,
  EVAL_BUDGET,
  HIGH_EPS,
  advPath,
  underProtocol,
  type CarsoContext,
  type EntryResult,
  type EvalBudget,
} from './stage-kit.js';
import { CARSO_STAGES, eotConvergence, gradients, highEps, honestAARand, square, transfer } from './stages.js';

export { EOT_SAMPLES, EVAL_BUDGET, HIGH_EPS, PGD_EOT_STEP_PER_EPS, type EvalBudget } from './stage-kit.js';
export type { Protocol } from '../eval/result.js';

/** Stage names (for --skip). */
export const STAGE_NAMES: readonly string[] = CARSO_STAGES.map((s) => s.name);

/** Default NaN early stop: 5 gradient evaluations (100 gradient samples at EOT 20) all NaN/Inf from the start. */
export const STOP_NON_FINITE = 5;

export interface CarsoEvalOptions {
  /** Linf radius of the threat model (pixels in [0, 1]). */
  eps: number;
  seed: number;
  /** Which protocols to evaluate (default both; they run paper first). */
  protocols?: readonly Protocol[];
  /** R: fresh draws per point in the honest final evaluation (the paper's is 1). Default 10. */
  finalEvals?: number;
  /** Points per attack call (default 50). */
  batchSize?: number;
  /** Output folder: eval.json, grid.json, stages/, state/, adv-*.safetensors. */
  out: string;
  /** Recorded in eval.json: dataset name, first index, versions, weight files... */
  dataset: string;
  first: number;
  settings?: Record<string, number | string | boolean>;
  versions?: Record<string, string>;
  /** Run PGD-EOT on the first m points only (default all). */
  pgdEotPoints?: number;
  /** Points of the EOT-convergence subset (default 16; 0 skips it). */
  eotPoints?: number;
  /** Class names for grid.json (default: the class indices). */
  classNames?: readonly string[];
  /** Points shown in grid.json (default 6; 0: no grid). */
  gridPoints?: number;
  /** Attack budgets (default: the reference's, EVAL_BUDGET); smaller ones for quick runs, recorded in eval.json. */
  budget?: Partial<EvalBudget>;
  /**
   * Stop attacking a point of CARSO after this many gradient evaluations from the start whose
   * EOT samples were all NaN/Inf (attacks/stop.ts; default STOP_NON_FINITE, 0 = never).
   */
  stopNonFinite?: number;
  /** Identities of the weights (e.g. SHA-256 of the files): stages are reused only with the same ones. */
  weights?: { classifier: string; purifier: string };
  /** Skip stages by name (STAGE_NAMES, e.g. 'carso-pgd-eot' for a quick run). */
  skip?: readonly string[];
  onStage?: (name: string, resumed: boolean) => void;
  /** Spread every attack cascade's batches over ranks (src/dist/cascade.ts); the rest runs on each rank alike. */
  shards?: CascadeShards;
  onEvent?: (e: CascadeEvent) => void;
  onWarning?: (w: CheckWarning) => void;
}

/** Evaluates `classifier` and `carso` (built on it) on x: [n, C, H, W], y: int64 [n]; writes <out>/eval.json. */
export function evaluateCarso(classifier: Module, carso: Carso, x: Tensor, y: Tensor, o: CarsoEvalOptions): EvalResult {
  const t0 = performance.now();
  const protocols = checkOptions(o);
  carso.eval();
  const f = asModel(classifier);
  const n = x.size(0);
  const K = noGrad(() => tidy(() => f.forward(x.narrow(0, 0, 1)).size(1)));
  const warnings = warningLog(o.onWarning);
  const c: CarsoContext = {
    x,
    y,
    n,
    K,
    eps: o.eps,
    seed: o.seed,
    bs: o.batchSize ?? 50,
    budget: { ...EVAL_BUDGET, ...o.budget },
    R: o.finalEvals ?? 10,
    honestAggregation: carso.aggregation,
    stopNonFinite: o.stopNonFinite ?? STOP_NON_FINITE,
    pgdEotPoints: Math.min(n, o.pgdEotPoints ?? n),
    eotPoints: Math.min(n, o.eotPoints ?? 16),
    classifier: f,
    carso,
    weights: o.weights ?? { classifier: '', purifier: '' },
    out: o.out,
    shards: o.shards,
    onEvent: o.onEvent,
    onWarning: (w) => warnings.add(w),
  };
  const skip = new Set(o.skip ?? []);
  const plan = CARSO_STAGES.filter(
    (s) =>
      (s.protocol === null || protocols.includes(s.protocol)) &&
      !skip.has(s.name) &&
      !(s === eotConvergence && c.eotPoints === 0),
  );
  const done = runStages(plan, c, { dir: o.out, seed: o.seed, x, y, warnings, onStage: o.onStage });
  const entries = done.values().flatMap((r) => (isEntry(r) ? [r.entry] : []));
  const conv = done.get(eotConvergence);
  const gridAdv = [honestAARand.name, 'paper-carso-aa-rand'].map((s) => advPath(c, s)).find((p) => existsSync(p));
  if (o.gridPoints !== 0 && gridAdv !== undefined) {
    const p: Protocol = gridAdv.endsWith(`adv-${honestAARand.name}.safetensors`) ? 'honest' : 'paper';
    const go = {
      points: o.gridPoints ?? 6,
      eps: o.eps,
      first: o.first,
      classNames: o.classNames,
      seed: stageSeed(o.seed, 'grid'),
      out: o.out,
    };
    underProtocol(c, p, () => writeGrid(carso, f, x, y, gridAdv, go));
  }
  const result: EvalResult = {
    format: 'carso-eval/2',
    dataset: o.dataset,
    first: o.first,
    n,
    norm: 'Linf',
    eps: o.eps,
    seed: o.seed,
    protocols,
    finalEvals: c.R,
    verdict: verdictOf(entries),
    entries,
    comparisons: comparisons(entries, protocols),
    diagnostics: protocols.includes('honest') ? DIAGNOSTICS.flatMap((d) => d(done, c)) : [],
    warnings: warnings.list,
    eotConvergence: conv && { n: c.eotPoints, eot: EOT_SAMPLES, accuracy: conv.map((k) => countWithInterval(k, c.eotPoints)) },
    settings: {
      batchSize: c.bs,
      samples: carso.samples,
      aggregation: c.honestAggregation,
      paperAggregation: 'peel-reference',
      stopNonFinite: c.stopNonFinite,
      ...c.budget,
      ...o.settings,
    },
    versions: o.versions ?? {},
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileAtomic(join(o.out, 'eval.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

/** The protocols in run order; throws on an invalid option before any work starts. */
function checkOptions(o: CarsoEvalOptions): Protocol[] {
  const wanted = o.protocols ?? PROTOCOLS;
  const bad = wanted.filter((p) => !PROTOCOLS.includes(p));
  if (bad.length > 0 || wanted.length === 0)
    throw new Error(`carso eval: protocols must be some of ${PROTOCOLS.join(', ')} (got '${wanted.join(',')}')`);
  const R = o.finalEvals ?? 10;
  if (!Number.isInteger(R) || R < 1) throw new Error(`carso eval: final evaluations must be an integer >= 1, got ${R}`);
  const stop = o.stopNonFinite ?? STOP_NON_FINITE;
  if (!Number.isInteger(stop) || stop < 0) throw new Error(`carso eval: stopNonFinite must be an integer >= 0, got ${stop}`);
  const unknown = (o.skip ?? []).filter((s) => !STAGE_NAMES.includes(s));
  if (unknown.length > 0)
    throw new Error(`carso eval: unknown stage(s) ${unknown.join(', ')} (valid: ${STAGE_NAMES.join(', ')})`);
  return PROTOCOLS.filter((p) => wanted.includes(p));
}

function warningLog(sink?: (w: CheckWarning) => void): WarningLog {
  const list: CheckWarning[] = [];
  return {
    list,
    add(w) {
      if (list.some((v) => v.message === w.message)) return;
      list.push(w);
      sink?.(w);
    },
  };
}

const isEntry = (r: unknown): r is EntryResult => typeof r === 'object' && r !== null && 'entry' in r;
const count = (flags: readonly boolean[] | undefined): number => (flags ?? []).filter(Boolean).length;

/** CARSO against the classifier, paired on the same points: clean and under AutoAttack, per protocol. */
function comparisons(entries: readonly EvalEntry[], protocols: readonly Protocol[]): Comparison[] {
  const find = (label: string): EvalEntry | undefined => entries.find((e) => entryLabel(e) === label);
  return protocols.flatMap((p) =>
    [
      [`carso clean (${p})`, 'classifier clean'],
      [`carso autoattack-rand (${p})`, 'classifier autoattack-standard'],
    ].flatMap(([a, b]) => {
      const [ea, eb] = [find(a as string), find(b as string)];
      if (ea?.points === undefined || eb?.points === undefined) return [];
      return [{ a: a as string, b: b as string, ...pairedDifference(ea.points, eb.points) }];
    }),
  );
}

/** The honest protocol's gradient-masking diagnostics (eval/diagnostics.ts), each from the stages it reads. */
const DIAGNOSTICS: ((r: StageResults, c: CarsoContext) => Diagnostic[])[] = [
  (r, c) => {
    const [sq, aa] = [r.get(square), r.get(honestAARand)];
    if (sq === undefined || aa === undefined) return [];
    return [diag.blackBoxBeatsWhiteBox(aa.attackFlags.filter((rb, i) => rb && !sq.robustFlags[i]).length, c.n)];
  },
  (r, c) => {
    const h = r.get(highEps);
    return h === undefined ? [] : [diag.highEpsNotZero(count(h.entry.points), c.n, HIGH_EPS)];
  },
  (r, c) => {
    const g = r.get(gradients);
    if (g === undefined) return [];
    return [diag.gradientProblems(g.zero, r.get(honestAARand)?.nanPoints ?? 0, c.n), diag.lossNotIncreasing(g.trace)];
  },
  (r, c) => {
    const conv = r.get(eotConvergence);
    return conv === undefined ? [] : [diag.eotNotConverged(EOT_SAMPLES, conv, c.eotPoints)];
  },
  (r, c) => {
    const [t, aa] = [r.get(transfer), r.get(honestAARand)];
    if (t === undefined || aa === undefined) return [];
    return [diag.transferStronger(count(t.entry.points), count(aa.entry.points), c.n)];
  },
];
