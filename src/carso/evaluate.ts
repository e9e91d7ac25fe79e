// The CARSO evaluation (carso.md section 5, and the honesty rules of this
// project): a frozen classifier and the CARSO built on it, on the same points.
//
//   stage                 model       what
//   classifier-clean      classifier  clean accuracy
//   classifier-aa         classifier  AutoAttack standard
//   carso-clean           CARSO       clean accuracy, R fresh draws per point
//   carso-aa-rand         CARSO       AutoAttack rand (APGD-CE + APGD-DLR, EOT 20) end to end,
//                                     then R fresh draws on the returned examples
//   carso-pgd-eot         CARSO       PGD-EOT: 200 steps, step 0.007 at 8/255 scaled to eps, EOT 20, no random start
//   carso-high-eps        CARSO       the eps = 0.95 sanity check: PGD-EOT with CE, then with DLR on the
//                                     survivors (as AA-rand pairs them; fewer steps and samples)
//  strict protocol only (the gradient-masking diagnostics, diagnostics.ts):
//   carso-transfer        CARSO       on the classifier's AutoAttack examples
//   carso-square          CARSO       Square (black box) from the clean points
//   carso-eot-convergence CARSO       APGD-CE with EOT 1, 5, 20, 50 on a small subset
//   carso-gradients       CARSO       zero / NaN input gradients per point, PGD loss trace
//
// Protocols: 'reference' reports what the original scripts report: one fresh
// stochastic forward per point (R = 1), no diagnostics. 'strict' (default)
// re-evaluates every returned example R times and reports single-draw,
// mean-over-R and worst-of-R side by side (worst-of-R is the headline), adds
// paired differences with intervals and the diagnostics.
//
// Resumable: each finished stage is kept in <out>/stages/<stage>.json and each
// attack cascade saves its state after every batch (<out>/state/), both keyed by
// a fingerprint of the settings and the data; a rerun skips or continues them and
// ends with the same result. Each stage reseeds libtorch from the seed and its name.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ceLoss, Linf, asModel, lossAndGrad, pgdRun, type Model } from '../attacks/index.js';
import type { AttackOptions } from '../attacks/registry.js';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import type { Module } from '../nn/index.js';
import { manualSeed, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { runAttacks, runAutoAttack, type AutoAttackResult, type CascadeEvent, type CascadeShards } from '../eval/autoattack.js';
import type { CheckWarning } from '../eval/checks.js';
import * as diag from '../eval/diagnostics.js';
import { finalEvaluation } from '../eval/final.js';
import type { AttackRow, Diagnostic, EvalEntry, EvalResult, ImageGrid, StochasticAccuracy } from '../eval/result.js';
import { fingerprint } from '../eval/state.js';
import { countWithInterval, pairedDifference } from '../eval/stats.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Carso } from './carso.js';

export type Protocol = 'reference' | 'strict';

export interface CarsoEvalOptions {
  /** Linf radius of the threat model (pixels in [0, 1]). */
  eps: number;
  seed: number;
  protocol: Protocol;
  /** R: fresh draws per point in the final evaluation (strict; reference uses 1). Default 10. */
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
  /** Points shown in grid.json (default 6). */
  gridPoints?: number;
  /** Attack budgets (default: the reference's, EVAL_BUDGET); smaller ones for quick runs, recorded in eval.json. */
  budget?: Partial<EvalBudget>;
  /** Identities of the weights (e.g. SHA-256 of the files): stages are reused only with the same ones. */
  weights?: { classifier: string; purifier: string };
  /** Skip stages by name (e.g. 'carso-pgd-eot' for a quick run). */
  skip?: readonly string[];
  onStage?: (name: string, resumed: boolean) => void;
  /** Spread every attack cascade's batches over ranks (src/dist/cascade.ts); the rest runs on each rank alike. */
  shards?: CascadeShards;
  onEvent?: (e: CascadeEvent) => void;
  onWarning?: (w: CheckWarning) => void;
}

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

interface StageFlags {
  /** Per point: counted correct (robust) by the reported number. */
  flags: boolean[];
  entry: EvalEntry;
}

/** Evaluates `classifier` and `carso` (built on it) on x: [n, C, H, W], y: int64 [n]; writes <out>/eval.json. */
export function evaluateCarso(classifier: Module, carso: Carso, x: Tensor, y: Tensor, o: CarsoEvalOptions): EvalResult {
  const t0 = performance.now();
  const strict = o.protocol === 'strict';
  const R = strict ? (o.finalEvals ?? 10) : 1;
  if (!Number.isInteger(R) || R < 1) throw new Error(`carso eval: final evaluations must be an integer >= 1, got ${R}`);
  const n = x.size(0);
  const bs = o.batchSize ?? 50;
  const f = asModel(classifier);
  const B: EvalBudget = { ...EVAL_BUDGET, ...o.budget };
  carso.eval();
  const settingsFp = {
    eps: o.eps,
    seed: o.seed,
    protocol: o.protocol,
    R,
    bs,
    samples: carso.samples,
    aggregation: carso.aggregation,
    budget: B,
  };
  // NOTE: a stage's results are reused only with the same weights: classifier stages
  // depend on the classifier's, CARSO stages on both (o.weights: e.g. file hashes).
  const fpClassifier = fingerprint({ ...settingsFp, weights: o.weights?.classifier ?? '' }, x, y);
  const fpCarso = fingerprint({ ...settingsFp, weights: o.weights ?? {} }, x, y);
  const fpOf = (name: string): string => (name.startsWith('classifier') ? fpClassifier : fpCarso);
  mkdirSync(join(o.out, 'stages'), { recursive: true });
  mkdirSync(join(o.out, 'state'), { recursive: true });
  const warnings: CheckWarning[] = [];
  const onWarning = (w: CheckWarning): void => {
    if (!warnings.some((v) => v.message === w.message)) warnings.push(w);
    o.onWarning?.(w);
  };
  const skip = new Set(o.skip ?? []);

  /** Runs (or reloads) a stage; its result is JSON, kept with the warnings it raised. */
  const stage = <T>(name: string, run: () => T): T | null => {
    if (skip.has(name)) return null;
    const file = join(o.out, 'stages', `${name}.json`);
    if (existsSync(file)) {
      try {
        const saved = JSON.parse(readFileSync(file, 'utf8')) as { fingerprint: string; result: T; warnings: CheckWarning[] };
        if (saved.fingerprint === fpOf(name)) {
          o.onStage?.(name, true);
          saved.warnings.forEach(onWarning);
          return saved.result;
        }
      } catch {
        // NOTE: a torn or foreign stage file is recomputed, never trusted
      }
    }
    o.onStage?.(name, false);
    manualSeed(stageSeed(o.seed, name));
    const before = warnings.length;
    const result = run();
    writeFileAtomic(file, JSON.stringify({ fingerprint: fpOf(name), result, warnings: warnings.slice(before) }));
    return result;
  };
  // the fingerprint in the name: a cascade state is only resumed with the same weights
  const statePath = (name: string): string =>
    join(o.out, 'state', `${name}-${createHash('sha256').update(fpOf(name)).digest('hex').slice(0, 16)}.safetensors`);
  const advPath = (name: string): string => join(o.out, `adv-${name}.safetensors`);
  const cascade = (name: string, run: (sp: string) => AutoAttackResult): AutoAttackResult => {
    const r = run(statePath(name));
    writeSafetensors(advPath(name), new Map([['x_adv', r.xAdv]]), { fingerprint: fpOf(name) });
    return r;
  };
  /** R fresh draws of CARSO on xs (the first m points): the three numbers and the per-point flags. */
  const stochastic = (xs: Tensor, m = n): { acc: StochasticAccuracy; worst: boolean[]; single: boolean[] } => {
    const fe = finalEvaluation(carso, xs, m === n ? y : y.narrow(0, 0, m), R, bs);
    return {
      acc: { draws: R, single: fe.single, meanOverR: { accuracy: fe.meanOverR.accuracy }, worstOfR: fe.worstOfR },
      worst: fe.correctDraws.map((c) => c === R),
      single: fe.firstDraw,
    };
  };
  const reported = (s: { acc: StochasticAccuracy; worst: boolean[]; single: boolean[] }): boolean[] =>
    strict ? s.worst : s.single;
  const entryOf = (
    model: string,
    attack: string,
    eps: number,
    flags: boolean[],
    seconds: number,
    extra: Partial<EvalEntry> = {},
  ): StageFlags => ({
    flags,
    entry: {
      model,
      attack,
      eps,
      accuracy: countWithInterval(flags.filter(Boolean).length, flags.length),
      seconds,
      ...extra,
    },
  });
  const clock = (): (() => number) => {
    const s = performance.now();
    return () => (performance.now() - s) / 1000;
  };
  const cascadeOpts = {
    norm: 'Linf' as const,
    eps: o.eps,
    seed: o.seed,
    batchSize: bs,
    onEvent: o.onEvent,
    onWarning,
    shards: o.shards,
  };

  // --- the classifier
  const clfClean = stage('classifier-clean', () => {
    const t = clock();
    const correct = finalEvaluation(f, x, y, 1, bs).firstDraw; // deterministic: one draw is the answer
    return entryOf('classifier', 'clean', 0, correct, t());
  });
  const clfAA = stage('classifier-aa', () => {
    const t = clock();
    const r = cascade('classifier-aa', (sp) => runAutoAttack(f, x, y, { ...cascadeOpts, version: 'standard', statePath: sp }));
    const out = entryOf('classifier', 'autoattack-standard', o.eps, r.robustFlags, t(), { perAttack: rows(r) });
    r.xAdv.dispose();
    return out;
  });

  // --- CARSO
  const carsoClean = stage('carso-clean', () => {
    const t = clock();
    const s = stochastic(x);
    return entryOf('carso', 'clean', 0, reported(s), t(), { stochastic: s.acc, settings: { samples: carso.samples } });
  });
  /** A CARSO attack cascade, then R fresh draws on what it returned. */
  const carsoAttack = (
    name: string,
    attack: string,
    eps: number,
    run: (sp: string) => AutoAttackResult,
    settings: Record<string, number | string | boolean>,
    points = n,
  ): (StageFlags & { attackFlags: boolean[]; nanPoints: number }) | null =>
    stage(name, () => {
      const t = clock();
      const r = cascade(name, run);
      const s = stochastic(r.xAdv, points);
      r.xAdv.dispose();
      return {
        ...entryOf('carso', attack, eps, reported(s), t(), { stochastic: s.acc, perAttack: rows(r), settings }),
        attackFlags: r.robustFlags,
        nanPoints: r.nanGrad.points,
      };
    });
  const aaRand = carsoAttack(
    'carso-aa-rand',
    'autoattack-rand',
    o.eps,
    (sp) =>
      runAutoAttack(carso, x, y, {
        ...cascadeOpts,
        version: 'rand',
        statePath: sp,
        overrides: {
          'apgd-ce': { nIter: B.apgdIters, eotIter: B.eot },
          'apgd-dlr': { nIter: B.apgdIters, eotIter: B.eot },
        },
      }),
    { eot: B.eot, iterations: B.apgdIters, samples: carso.samples },
  );
  const m = Math.min(n, o.pgdEotPoints ?? n);
  const pgdSpec = (eps: number, steps: number, eot: number): AttackOptions => ({
    eps,
    norm: 'Linf',
    steps,
    alpha: Math.min(1, PGD_EOT_STEP_PER_EPS * eps),
    eotIter: eot,
    randomStart: false,
    loss: 'ce',
    nRestarts: 1,
  });
  const xm = m === n ? x : x.narrow(0, 0, m);
  const ym = m === n ? y : y.narrow(0, 0, m);
  const pgdEot = carsoAttack(
    'carso-pgd-eot',
    'pgd-eot',
    o.eps,
    (sp) =>
      runAttacks(carso, xm, ym, [{ name: 'pgd', options: pgdSpec(o.eps, B.pgdEotSteps, B.eot) }], {
        ...cascadeOpts,
        statePath: sp,
      }),
    { steps: B.pgdEotSteps, eot: B.eot, step: pgdSpec(o.eps, 1, 1).alpha ?? 0, points: m },
    m,
  );
  const highEps = carsoAttack(
    'carso-high-eps',
    `eps-${HIGH_EPS}`,
    HIGH_EPS,
    (sp) =>
      runAttacks(
        carso,
        x,
        y,
        [
          { name: 'pgd', options: pgdSpec(HIGH_EPS, B.highEpsSteps, B.highEpsEot) },
          { name: 'pgd', options: { ...pgdSpec(HIGH_EPS, B.highEpsSteps, B.highEpsEot), loss: 'dlr' } },
        ],
        { ...cascadeOpts, eps: HIGH_EPS, statePath: sp },
      ),
    { steps: B.highEpsSteps, eot: B.highEpsEot, losses: 'ce, then dlr on the survivors' },
  );

  // --- strict: diagnostics
  const diagnostics: Diagnostic[] = [];
  let eotConvergence: EvalResult['eotConvergence'];
  let transfer: StageFlags | null = null;
  if (strict) {
    transfer = stage('carso-transfer', () => {
      const t = clock();
      if (!existsSync(advPath('classifier-aa'))) throw new Error('carso eval: the transfer stage needs classifier-aa');
      const adv = readSafetensors(advPath('classifier-aa')).tensors.get('x_adv') as Tensor;
      const s = stochastic(adv);
      adv.dispose();
      return entryOf('carso', 'transfer-from-classifier-aa', o.eps, reported(s), t(), { stochastic: s.acc });
    });
    const square = stage('carso-square', () => {
      const t = clock();
      const r = runAttacks(carso, x, y, [{ name: 'square', options: { eps: o.eps, norm: 'Linf', nQueries: B.squareQueries } }], {
        ...cascadeOpts,
        statePath: statePath('carso-square'),
      });
      r.xAdv.dispose();
      return { robustFlags: r.robustFlags, seconds: t() };
    });
    if (square !== null && aaRand !== null) {
      const extra = aaRand.attackFlags.filter((rb, i) => rb && !square.robustFlags[i]).length;
      diagnostics.push(diag.blackBoxBeatsWhiteBox(extra, n));
    }
    if (highEps !== null) diagnostics.push(diag.highEpsNotZero(count(highEps.flags), n, HIGH_EPS));
    const k = Math.min(n, o.eotPoints ?? 16);
    const grads = stage('carso-gradients', () => {
      const zero = zeroGradientRows(carso, x, y, bs);
      const sub = Math.max(1, k);
      const trace = tidy(
        () =>
          pgdRun(carso, x.narrow(0, 0, sub), y.narrow(0, 0, sub), {
            norm: Linf,
            eps: o.eps,
            alpha: PGD_EOT_STEP_PER_EPS * o.eps,
            steps: 20,
            randomStart: false,
            lossFn: ceLoss,
            eotIter: 5,
          }).lossTrace,
      );
      return { zero, trace };
    });
    if (grads !== null) {
      diagnostics.push(diag.gradientProblems(grads.zero, aaRand?.nanPoints ?? 0, n));
      diagnostics.push(diag.lossNotIncreasing(grads.trace));
    }
    if (k > 0) {
      const conv = stage('carso-eot-convergence', () => {
        const xs = x.narrow(0, 0, k);
        const ys = y.narrow(0, 0, k);
        return EOT_SAMPLES.map((eot) => {
          const r = runAttacks(
            carso,
            xs,
            ys,
            [
              {
                name: 'apgd-ce',
                options: { eps: o.eps, norm: 'Linf', nIter: B.eotConvergenceIters, nRestarts: 1, eotIter: eot },
              },
            ],
            { ...cascadeOpts, statePath: statePath(`carso-eot-${eot}`) },
          );
          const s = stochastic(r.xAdv, k);
          r.xAdv.dispose();
          return reported(s).filter(Boolean).length;
        });
      });
      if (conv !== null) {
        eotConvergence = { n: k, eot: EOT_SAMPLES, accuracy: conv.map((c) => countWithInterval(c, k)) };
        diagnostics.push(diag.eotNotConverged(EOT_SAMPLES, conv, k));
      }
    }
    if (transfer !== null && aaRand !== null)
      diagnostics.push(diag.transferStronger(count(transfer.flags), count(aaRand.flags), n));
  }

  const staged = [clfClean, clfAA, carsoClean, aaRand, pgdEot, highEps, transfer].filter((s): s is StageFlags => s !== null);
  const comparisons = [];
  if (strict) {
    for (const [a, b] of [
      [carsoClean, clfClean],
      [aaRand, clfAA],
    ] as const)
      if (a !== null && b !== null)
        comparisons.push({ a: label(a.entry), b: label(b.entry), ...pairedDifference(a.flags, b.flags) });
  }
  if (o.gridPoints !== 0 && existsSync(advPath('carso-aa-rand'))) writeGrid(o, carso, f, x, y, advPath('carso-aa-rand'));
  const result: EvalResult = {
    format: 'carso-eval/1',
    dataset: o.dataset,
    first: o.first,
    n,
    norm: 'Linf',
    eps: o.eps,
    seed: o.seed,
    protocol: o.protocol,
    finalEvals: R,
    // NOTE: the per-point flags join the entry here, so stages saved without them still carry them
    entries: staged.map((s) => ({ ...s.entry, points: s.flags })),
    comparisons,
    diagnostics,
    warnings,
    eotConvergence,
    settings: { batchSize: bs, samples: carso.samples, aggregation: carso.aggregation, ...B, ...o.settings },
    versions: o.versions ?? {},
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileAtomic(join(o.out, 'eval.json'), JSON.stringify(result, null, 2) + '\n');
  return result;
}

const count = (flags: readonly boolean[]): number => flags.filter(Boolean).length;
const label = (e: EvalEntry): string => `${e.model} ${e.attack}`;

/** A stage's own seed: the run's seed and the stage name, so stages do not share random streams. */
function stageSeed(seed: number, name: string): number {
  return (seed + createHash('sha256').update(name).digest().readUInt32LE(0)) % 2 ** 31;
}

function rows(r: AutoAttackResult): AttackRow[] {
  return r.perAttack.map((a) => ({ name: a.name, robust: a.robust, total: a.total, seconds: a.seconds, queries: a.queries }));
}

/** Points whose CE input gradient (one draw) is exactly zero everywhere. */
function zeroGradientRows(model: Model, x: Tensor, y: Tensor, bs: number): number {
  let zero = 0;
  for (let s = 0; s < x.size(0); s += bs) {
    const m = Math.min(bs, x.size(0) - s);
    zero += tidy(() => {
      const g = lossAndGrad(model, x.narrow(0, s, m), y.narrow(0, s, m), ceLoss, 1).grad;
      return g
        .abs()
        .reshape(m, -1)
        .sum(1)
        .eq(0)
        .toArray()
        .filter((v) => v !== 0).length;
    });
  }
  return zero;
}

/** grid.json: the first points, their AA-rand examples and CARSO's reconstructions of them. */
function writeGrid(o: CarsoEvalOptions, carso: Carso, f: Model, x: Tensor, y: Tensor, adv: string): void {
  const k = Math.min(x.size(0), o.gridPoints ?? 6);
  const content = readSafetensors(adv);
  const xAdv = content.tensors.get('x_adv') as Tensor;
  manualSeed(stageSeed(o.seed, 'grid'));
  const g = carso.geometry;
  const grid: ImageGrid = noGrad(() =>
    tidy(() => {
      const xs = x.narrow(0, 0, k);
      const xa = xAdv.narrow(0, 0, k);
      const labels = y.narrow(0, 0, k).toArray();
      const pc = f.forward(xs).argmax(1).toArray();
      const pa = f.forward(xa).argmax(1).toArray();
      const pcarso = carso.forward(xa).argmax(1).toArray();
      const shown = 3;
      const c = carso.condition(xa);
      const recon = [...Array(shown).keys()].map(() =>
        carso.purifier.decode(carso.drawLatents(xa).select(0, 0), c).reshape(k, -1).toArray(),
      );
      const flat = (t: Tensor): number[] => t.reshape(-1).toArray();
      const per = g.channels * g.size * g.size;
      const cleanFlat = flat(xs);
      const advFlat = flat(xa);
      return {
        format: 'carso-grid/1' as const,
        classNames: o.classNames ? [...o.classNames] : [...Array(f.forward(xs).size(1)).keys()].map(String),
        channels: g.channels,
        size: g.size,
        eps: o.eps,
        points: labels.map((label, i) => ({
          index: o.first + i,
          label,
          clean: cleanFlat.slice(i * per, (i + 1) * per),
          adversarial: advFlat.slice(i * per, (i + 1) * per),
          reconstructions: recon.map((r) => r.slice(i * per, (i + 1) * per)),
          predictedClean: pc[i] as number,
          predictedAdversarialClassifier: pa[i] as number,
          predictedAdversarialCarso: pcarso[i] as number,
        })),
      };
    }),
  );
  xAdv.dispose();
  writeFileAtomic(join(o.out, 'grid.json'), JSON.stringify(grid) + '\n');
}
