// The pieces every stage of the CARSO evaluation is built from (stages.ts): the
// context the runner hands each stage, the budgets, what a stage's result depends
// on (its key), running CARSO under a protocol's aggregation, the final evaluation
// with R fresh draws, and the shape of an attack stage (a cascade, then draws).
import { join } from 'node:path';
import type { Model } from '../attacks/index.js';
import type { AttackOptions } from '../attacks/registry.js';
import { writeSafetensors } from '../io/index.js';
import type { Tensor } from '../tensor/index.js';
import type { AutoAttackResult, CascadeEvent, CascadeShards } from '../eval/autoattack.js';
import type { CheckWarning } from '../eval/checks.js';
import { finalEvaluation } from '../eval/final.js';
import type { AttackRow, EvalEntry, Protocol, StochasticAccuracy } from '../eval/result.js';
import type { Stage, StageFiles } from '../eval/stages.js';
import { countWithInterval } from '../eval/stats.js';
import type { Aggregation } from './aggregation.js';
import type { Carso } from './carso.js';

/** PGD-EOT of the reference (Lee & Kim 2023): step 0.007 at eps 8/255, i.e. 0.2231 eps. */
export const PGD_EOT_STEP_PER_EPS = 0.007 / (8 / 255);
/**
 * The high-eps check's radius (the reference's `*_hieps.sh`). NOTE: its attack pairs CE with the
 * scale-invariant DLR loss, as AA-rand does: CARSO's doubly-exponential aggregation outputs logit gaps
 * in the thousands, where CE's gradient underflows to 0, so a CE-only check stays high for that reason.
 */
export const HIGH_EPS = 0.95;
export const EOT_SAMPLES = [1, 5, 20, 50];

/** How hard each stage attacks. */
export interface EvalBudget {
  /** AutoAttack rand: APGD iterations and EOT samples (fra31: 100, 20). */
  apgdIters: number;
  eot: number;
  /** PGD-EOT steps (reference 200; EOT as above). */
  pgdEotSteps: number;
  /** eps 0.95 check: PGD-EOT steps and samples (cheaper than the reference's AA-rand: it only has to reach ~0). */
  highEpsSteps: number;
  highEpsEot: number;
  /** Square queries of the black-box diagnostic. */
  squareQueries: number;
  /** APGD-CE iterations of the EOT-convergence runs (a subset run needs the trend, not AA's full budget). */
  eotConvergenceIters: number;
}

export const EVAL_BUDGET: EvalBudget = {
  apgdIters: 100,
  eot: 20,
  pgdEotSteps: 200,
  highEpsSteps: 20,
  highEpsEot: 5,
  squareQueries: 1000,
  eotConvergenceIters: 20,
};

/** What every stage sees (evaluate.ts builds it). */
export interface CarsoContext {
  /** [n, C, H, W] in [0, 1], int64 [n]; K classes. */
  x: Tensor;
  y: Tensor;
  n: number;
  K: number;
  eps: number;
  seed: number;
  /** Points per attack call. */
  bs: number;
  budget: EvalBudget;
  /** Draws per point of the honest final evaluation (the paper's is 1). */
  R: number;
  /** The honest protocol's aggregation (the paper's is the reference's, peel-reference). */
  honestAggregation: Aggregation;
  /** NaN early stop of the gradient attacks on CARSO (attacks/stop.ts; 0: off). */
  stopNonFinite: number;
  /** PGD-EOT on the first m points; EOT convergence on the first k (0: skipped). */
  pgdEotPoints: number;
  eotPoints: number;
  classifier: Model;
  carso: Carso;
  /** Identities of the weights: a stage is reused only with the same ones. */
  weights: { classifier: string; purifier: string };
  out: string;
  /** Every attack cascade's batches spread over ranks (src/dist/cascade.ts); the rest runs on each rank alike. */
  shards?: CascadeShards;
  onEvent?: (e: CascadeEvent) => void;
  onWarning: (w: CheckWarning) => void;
}

/** A stage of this evaluation: which protocol it belongs to (null: both) and which model it evaluates. */
export interface CarsoStage<T = unknown> extends Stage<CarsoContext, T> {
  readonly protocol: Protocol | null;
}

/** A stage that adds a line to eval.json (with its per-point flags in entry.points). */
export interface EntryResult {
  entry: EvalEntry;
}

/** An attack stage's result: its line, the cascade's own robust flags, and its NaN/Inf count. */
export interface AttackStageResult extends EntryResult {
  attackFlags: boolean[];
  nanPoints: number;
}

export const aggregationOf = (c: CarsoContext, p: Protocol): Aggregation =>
  p === 'paper' ? 'peel-reference' : c.honestAggregation;
export const drawsOf = (c: CarsoContext, p: Protocol): number => (p === 'paper' ? 1 : c.R);

/** Runs f with CARSO aggregating as protocol p does. */
export function underProtocol<T>(c: CarsoContext, p: Protocol, f: () => T): T {
  const before = c.carso.aggregation;
  c.carso.aggregation = aggregationOf(c, p);
  try {
    return f();
  } finally {
    c.carso.aggregation = before;
  }
}

export const classifierKey = (c: CarsoContext): Record<string, unknown> => ({
  eps: c.eps,
  seed: c.seed,
  bs: c.bs,
  weights: c.weights.classifier,
});
export const carsoKey = (c: CarsoContext, p: Protocol): Record<string, unknown> => ({
  eps: c.eps,
  seed: c.seed,
  bs: c.bs,
  samples: c.carso.samples,
  budget: c.budget,
  weights: c.weights,
  protocol: p,
  aggregation: aggregationOf(c, p),
  draws: drawsOf(c, p),
  stopNonFinite: c.stopNonFinite,
});

export const clock = (): (() => number) => {
  const s = performance.now();
  return () => (performance.now() - s) / 1000;
};
export const advPath = (c: CarsoContext, stage: string): string => join(c.out, `adv-${stage}.safetensors`);
export const cascadeOpts = (c: CarsoContext) => ({
  norm: 'Linf' as const,
  eps: c.eps,
  seed: c.seed,
  batchSize: c.bs,
  onEvent: c.onEvent,
  onWarning: c.onWarning,
  shards: c.shards,
});

export function entryOf(
  model: string,
  attack: string,
  eps: number,
  flags: boolean[],
  seconds: number,
  extra: Partial<EvalEntry> = {},
): EvalEntry {
  const accuracy = countWithInterval(flags.filter(Boolean).length, flags.length);
  return { model, ...extra, attack, eps, accuracy, points: flags, seconds };
}

export function rows(r: AutoAttackResult): AttackRow[] {
  return r.perAttack.map((a) => ({ name: a.name, robust: a.robust, total: a.total, seconds: a.seconds, queries: a.queries }));
}

export const attackEvidence = (r: AutoAttackResult): EvalEntry['evidence'] => ({
  attackNonFinite: r.nonFinite,
  stopped: r.stopped,
  moved: r.moved,
});

/** R fresh draws of CARSO (protocol p) on xs (the first m points): the three numbers and the flags the protocol reports. */
export function stochastic(c: CarsoContext, p: Protocol, xs: Tensor, m = c.n): { acc: StochasticAccuracy; reported: boolean[] } {
  const R = drawsOf(c, p);
  const fe = underProtocol(c, p, () => finalEvaluation(c.carso, xs, m === c.n ? c.y : c.y.narrow(0, 0, m), R, c.bs));
  const acc = { draws: R, single: fe.single, meanOverR: { accuracy: fe.meanOverR.accuracy }, worstOfR: fe.worstOfR };
  return { acc, reported: p === 'honest' ? fe.correctDraws.map((k) => k === R) : fe.firstDraw };
}

/** Runs a cascade and keeps its adversarial examples in adv-<stage>.safetensors. */
export function cascade(
  c: CarsoContext,
  stage: string,
  files: StageFiles,
  run: (statePath: string) => AutoAttackResult,
): AutoAttackResult {
  const r = run(files.state());
  writeSafetensors(advPath(c, stage), new Map([['x_adv', r.xAdv]]), { fingerprint: files.fingerprint });
  return r;
}

/** A stage that attacks CARSO with a cascade, then judges the returned examples with fresh draws. */
export function carsoAttack(
  name: string,
  p: Protocol,
  attack: string,
  eps: (c: CarsoContext) => number,
  run: (c: CarsoContext, statePath: string) => AutoAttackResult,
  settings: (c: CarsoContext) => Record<string, number | string | boolean>,
  points: (c: CarsoContext) => number = (c) => c.n,
): CarsoStage<AttackStageResult> {
  return {
    name,
    protocol: p,
    needs: [],
    writes: [`adv-${name}.safetensors`, `state/${name}-<fingerprint>.safetensors`],
    resume: 'state',
    key: (c) => ({ ...carsoKey(c, p), points: points(c), settings: settings(c) }),
    run: (c, _d, files) => {
      const t = clock();
      const r = cascade(c, name, files, (sp) => underProtocol(c, p, () => run(c, sp)));
      const s = stochastic(c, p, r.xAdv, points(c));
      r.xAdv.dispose();
      const extra = { protocol: p, stochastic: s.acc, perAttack: rows(r), settings: settings(c), evidence: attackEvidence(r) };
      const entry = entryOf('carso', attack, eps(c), s.reported, t(), extra);
      return { entry, attackFlags: r.robustFlags, nanPoints: r.nanGrad.points };
    },
  };
}

export const pgdSpec = (c: CarsoContext, eps: number, steps: number, eot: number): AttackOptions => ({
  eps,
  norm: 'Linf',
  steps,
  alpha: Math.min(1, PGD_EOT_STEP_PER_EPS * eps),
  eotIter: eot,
  randomStart: false,
  loss: 'ce',
  nRestarts: 1,
  stopNonFinite: c.stopNonFinite,
});
export const head = (t: Tensor, m: number): Tensor => (m === t.size(0) ? t : t.narrow(0, 0, m));
