// The stages of the CARSO evaluation (evaluate.ts runs them with eval/stages.ts):
//
//   stage                   protocol  model       what
//   classifier-clean        both      classifier  clean accuracy; output/gradient evidence at the clean points
//   classifier-aa           both      classifier  AutoAttack standard
//   paper-carso-clean       paper     CARSO       one fresh draw per point, reference aggregation; evidence
//   paper-carso-aa-rand     paper     CARSO       AutoAttack rand (APGD-CE + APGD-DLR, EOT 20) with fra31's
//                                                 NaN semantics and warnings, then one fresh draw per point
//   carso-clean             honest    CARSO       R fresh draws per point, stable aggregation; evidence
//   carso-aa-rand           honest    CARSO       AutoAttack rand end to end, then R fresh draws per point
//   carso-pgd-eot           honest    CARSO       PGD-EOT: 200 steps, step 0.007 at 8/255 scaled to eps, EOT 20, no random start
//   carso-high-eps          honest    CARSO       the eps = 0.95 sanity check: PGD-EOT with CE, then with DLR on the
//                                                 survivors (as AA-rand pairs them; fewer steps and samples)
//   carso-transfer          honest    CARSO       on the classifier's AutoAttack examples (needs classifier-aa)
//   carso-square            honest    CARSO       Square (black box) from the clean points
//   carso-gradients         honest    CARSO       zero CE input gradients per point, PGD loss trace
//   carso-eot-convergence   honest    CARSO       APGD-CE with EOT 1, 5, 20, 50 on a small subset
//
// Every gradient attack on CARSO stops attacking a point whose gradients are all
// NaN/Inf from the start (attacks/stop.ts): under the paper protocol fra31 would
// never move it (sign(NaN) = 0), so the number is unchanged and the time is saved.
// A stage's key is what its result depends on: the classifier's stages do not depend
// on CARSO or on the protocols chosen, so they are shared and reused across runs.
import { ceLoss, Linf, pgdRun, type Model } from '../attacks/index.js';
import type { AttackOptions } from '../attacks/registry.js';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import { tidy, type Tensor } from '../tensor/index.js';
import { runAttacks, runAutoAttack, type AutoAttackResult, type CascadeEvent } from '../eval/autoattack.js';
import type { CheckWarning } from '../eval/checks.js';
import { cleanEvidence, gradientStatus } from '../eval/evidence.js';
import { finalEvaluation } from '../eval/final.js';
import type { AttackRow, EvalEntry, Protocol, StochasticAccuracy } from '../eval/result.js';
import type { Stage, StageFiles } from '../eval/stages.js';
import { countWithInterval } from '../eval/stats.js';
import { join } from 'node:path';
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
const drawsOf = (c: CarsoContext, p: Protocol): number => (p === 'paper' ? 1 : c.R);

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

const classifierKey = (c: CarsoContext): Record<string, unknown> => ({
  eps: c.eps,
  seed: c.seed,
  bs: c.bs,
  weights: c.weights.classifier,
});
const carsoKey = (c: CarsoContext, p: Protocol): Record<string, unknown> => ({
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

const clock = (): (() => number) => {
  const s = performance.now();
  return () => (performance.now() - s) / 1000;
};
export const advPath = (c: CarsoContext, stage: string): string => join(c.out, `adv-${stage}.safetensors`);
const cascadeOpts = (c: CarsoContext) => ({
  norm: 'Linf' as const,
  eps: c.eps,
  seed: c.seed,
  batchSize: c.bs,
  onEvent: c.onEvent,
  onWarning: c.onWarning,
});

function entryOf(
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

function rows(r: AutoAttackResult): AttackRow[] {
  return r.perAttack.map((a) => ({ name: a.name, robust: a.robust, total: a.total, seconds: a.seconds, queries: a.queries }));
}

const attackEvidence = (r: AutoAttackResult): EvalEntry['evidence'] => ({
  attackNonFinite: r.nonFinite,
  stopped: r.stopped,
  moved: r.moved,
});

/** R fresh draws of CARSO (protocol p) on xs (the first m points): the three numbers and the flags the protocol reports. */
function stochastic(c: CarsoContext, p: Protocol, xs: Tensor, m = c.n): { acc: StochasticAccuracy; reported: boolean[] } {
  const R = drawsOf(c, p);
  const fe = underProtocol(c, p, () => finalEvaluation(c.carso, xs, m === c.n ? c.y : c.y.narrow(0, 0, m), R, c.bs));
  const acc = { draws: R, single: fe.single, meanOverR: { accuracy: fe.meanOverR.accuracy }, worstOfR: fe.worstOfR };
  return { acc, reported: p === 'honest' ? fe.correctDraws.map((k) => k === R) : fe.firstDraw };
}

/** Runs a cascade and keeps its adversarial examples in adv-<stage>.safetensors. */
function cascade(
  c: CarsoContext,
  stage: string,
  files: StageFiles,
  run: (statePath: string) => AutoAttackResult,
): AutoAttackResult {
  const r = run(files.state());
  writeSafetensors(advPath(c, stage), new Map([['x_adv', r.xAdv]]), { fingerprint: files.fingerprint });
  return r;
}

const classifierClean: CarsoStage<EntryResult> = {
  name: 'classifier-clean',
  protocol: null,
  needs: [],
  writes: [],
  resume: 'rerun',
  key: classifierKey,
  run: (c) => {
    const t = clock();
    const correct = finalEvaluation(c.classifier, c.x, c.y, 1, c.bs).firstDraw; // deterministic: one draw is the answer
    const evidence = cleanEvidence(c.classifier, c.x, c.y, c.K, c.bs);
    return { entry: entryOf('classifier', 'clean', 0, correct, t(), { evidence }) };
  },
};

const classifierAA: CarsoStage<EntryResult> = {
  name: 'classifier-aa',
  protocol: null,
  needs: [],
  writes: ['adv-classifier-aa.safetensors', 'state/classifier-aa-<fingerprint>.safetensors'],
  resume: 'state',
  key: classifierKey,
  run: (c, _d, files) => {
    const t = clock();
    const r = cascade(c, 'classifier-aa', files, (sp) =>
      runAutoAttack(c.classifier, c.x, c.y, { ...cascadeOpts(c), version: 'standard', statePath: sp }),
    );
    r.xAdv.dispose();
    const extra = { perAttack: rows(r), evidence: attackEvidence(r) };
    return { entry: entryOf('classifier', 'autoattack-standard', c.eps, r.robustFlags, t(), extra) };
  },
};

function carsoClean(p: Protocol): CarsoStage<EntryResult> {
  return {
    name: p === 'paper' ? 'paper-carso-clean' : 'carso-clean',
    protocol: p,
    needs: [],
    writes: [],
    resume: 'rerun',
    key: (c) => carsoKey(c, p),
    run: (c) => {
      const t = clock();
      const s = stochastic(c, p, c.x);
      const evidence = underProtocol(c, p, () => cleanEvidence(c.carso, c.x, c.y, c.K, c.bs));
      const extra = { protocol: p, stochastic: s.acc, settings: { samples: c.carso.samples }, evidence };
      return { entry: entryOf('carso', 'clean', 0, s.reported, t(), extra) };
    },
  };
}

/** A stage that attacks CARSO with a cascade, then judges the returned examples with fresh draws. */
function carsoAttack(
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

function aaRand(p: Protocol): CarsoStage<AttackStageResult> {
  return carsoAttack(
    p === 'paper' ? 'paper-carso-aa-rand' : 'carso-aa-rand',
    p,
    'autoattack-rand',
    (c) => c.eps,
    (c, sp) => {
      const apgd = { nIter: c.budget.apgdIters, eotIter: c.budget.eot, stopNonFinite: c.stopNonFinite };
      return runAutoAttack(c.carso, c.x, c.y, {
        ...cascadeOpts(c),
        version: 'rand',
        statePath: sp,
        // the paper protocol: fra31's warnings only (its NaN semantics are carso's APGD's: aa-nan.test.ts)
        fra31Warnings: p === 'paper',
        overrides: { 'apgd-ce': apgd, 'apgd-dlr': apgd },
      });
    },
    (c) => ({ eot: c.budget.eot, iterations: c.budget.apgdIters, samples: c.carso.samples, aggregation: aggregationOf(c, p) }),
  );
}

const pgdSpec = (c: CarsoContext, eps: number, steps: number, eot: number): AttackOptions => ({
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
const head = (t: Tensor, m: number): Tensor => (m === t.size(0) ? t : t.narrow(0, 0, m));

const pgdEot = carsoAttack(
  'carso-pgd-eot',
  'honest',
  'pgd-eot',
  (c) => c.eps,
  (c, sp) => {
    const m = c.pgdEotPoints;
    const spec = { name: 'pgd', options: pgdSpec(c, c.eps, c.budget.pgdEotSteps, c.budget.eot) };
    return runAttacks(c.carso, head(c.x, m), head(c.y, m), [spec], { ...cascadeOpts(c), statePath: sp });
  },
  (c) => ({
    steps: c.budget.pgdEotSteps,
    eot: c.budget.eot,
    step: Math.min(1, PGD_EOT_STEP_PER_EPS * c.eps),
    points: c.pgdEotPoints,
  }),
  (c) => c.pgdEotPoints,
);

const highEps = carsoAttack(
  'carso-high-eps',
  'honest',
  `eps-${HIGH_EPS}`,
  () => HIGH_EPS,
  (c, sp) => {
    const ce = pgdSpec(c, HIGH_EPS, c.budget.highEpsSteps, c.budget.highEpsEot);
    const specs = [
      { name: 'pgd', options: ce },
      { name: 'pgd', options: { ...ce, loss: 'dlr' as const } },
    ];
    return runAttacks(c.carso, c.x, c.y, specs, { ...cascadeOpts(c), eps: HIGH_EPS, statePath: sp });
  },
  (c) => ({ steps: c.budget.highEpsSteps, eot: c.budget.highEpsEot, losses: 'ce, then dlr on the survivors' }),
);

const transfer: CarsoStage<EntryResult> = {
  name: 'carso-transfer',
  protocol: 'honest',
  needs: ['classifier-aa'],
  writes: [],
  resume: 'rerun',
  key: (c) => ({ ...carsoKey(c, 'honest'), classifier: classifierKey(c) }),
  run: (c) => {
    const t = clock();
    const adv = readSafetensors(advPath(c, 'classifier-aa')).tensors.get('x_adv') as Tensor;
    const s = stochastic(c, 'honest', adv);
    adv.dispose();
    const extra = { protocol: 'honest' as const, stochastic: s.acc };
    return { entry: entryOf('carso', 'transfer-from-classifier-aa', c.eps, s.reported, t(), extra) };
  },
};

export const square: CarsoStage<{ robustFlags: boolean[]; seconds: number }> = {
  name: 'carso-square',
  protocol: 'honest',
  needs: [],
  writes: ['state/carso-square-<fingerprint>.safetensors'],
  resume: 'state',
  key: (c) => carsoKey(c, 'honest'),
  run: (c, _d, files) => {
    const t = clock();
    const spec = { name: 'square', options: { eps: c.eps, norm: 'Linf' as const, nQueries: c.budget.squareQueries } };
    const r = underProtocol(c, 'honest', () =>
      runAttacks(c.carso, c.x, c.y, [spec], { ...cascadeOpts(c), statePath: files.state() }),
    );
    r.xAdv.dispose();
    return { robustFlags: r.robustFlags, seconds: t() };
  },
};

export const gradients: CarsoStage<{ zero: number; trace: number[] }> = {
  name: 'carso-gradients',
  protocol: 'honest',
  needs: [],
  writes: [],
  resume: 'rerun',
  key: (c) => ({ ...carsoKey(c, 'honest'), points: c.eotPoints }),
  run: (c) =>
    underProtocol(c, 'honest', () => {
      const zero = gradientStatus(c.carso, c.x, c.y, ceLoss, c.bs).zero.filter(Boolean).length;
      const sub = Math.max(1, Math.min(c.n, c.eotPoints));
      const trace = tidy(
        () =>
          pgdRun(c.carso, head(c.x, sub), head(c.y, sub), {
            norm: Linf,
            eps: c.eps,
            alpha: PGD_EOT_STEP_PER_EPS * c.eps,
            steps: 20,
            randomStart: false,
            lossFn: ceLoss,
            eotIter: 5,
          }).lossTrace,
      );
      return { zero, trace };
    }),
};

export const eotConvergence: CarsoStage<number[]> = {
  name: 'carso-eot-convergence',
  protocol: 'honest',
  needs: [],
  writes: EOT_SAMPLES.map((e) => `state/carso-eot-${e}-<fingerprint>.safetensors`),
  resume: 'state',
  key: (c) => ({ ...carsoKey(c, 'honest'), points: c.eotPoints }),
  run: (c, _d, files) => {
    const k = Math.min(c.n, c.eotPoints);
    return EOT_SAMPLES.map((eot) => {
      const options = { eps: c.eps, norm: 'Linf' as const, nIter: c.budget.eotConvergenceIters, nRestarts: 1, eotIter: eot };
      const r = underProtocol(c, 'honest', () =>
        runAttacks(c.carso, head(c.x, k), head(c.y, k), [{ name: 'apgd-ce', options }], {
          ...cascadeOpts(c),
          statePath: files.state(`carso-eot-${eot}`),
        }),
      );
      const s = stochastic(c, 'honest', r.xAdv, k);
      r.xAdv.dispose();
      return s.reported.filter(Boolean).length;
    });
  },
};

export const paperAARand = aaRand('paper');
export const honestAARand = aaRand('honest');
export { highEps, transfer };

/** Every stage, in the order they run: the shared classifier stages, the paper protocol's, the honest one's. */
export const CARSO_STAGES: readonly CarsoStage[] = [
  classifierClean,
  classifierAA,
  carsoClean('paper'),
  paperAARand,
  carsoClean('honest'),
  honestAARand,
  pgdEot,
  highEps,
  transfer,
  square,
  gradients,
  eotConvergence,
];
