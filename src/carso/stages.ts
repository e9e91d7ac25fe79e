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
import { ceLoss, Linf, pgdRun } from '../attacks/index.js';
import { readSafetensors } from '../io/index.js';
import { tidy, type Tensor } from '../tensor/index.js';
import { runAttacks, runAutoAttack } from '../eval/autoattack.js';
import { cleanEvidence, gradientStatus } from '../eval/evidence.js';
import { finalEvaluation } from '../eval/final.js';
import type { Protocol } from '../eval/result.js';
import {
  EOT_SAMPLES,
  HIGH_EPS,
  PGD_EOT_STEP_PER_EPS,
  advPath,
  aggregationOf,
  attackEvidence,
  carsoAttack,
  carsoKey,
  cascade,
  cascadeOpts,
  classifierKey,
  clock,
  entryOf,
  head,
  pgdSpec,
  rows,
  stochastic,
  underProtocol,
  type AttackStageResult,
  type CarsoStage,
  type EntryResult,
} from './stage-kit.js';

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
