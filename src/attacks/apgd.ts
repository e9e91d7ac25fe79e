// APGD — Auto-PGD (Croce & Hein, "Reliable evaluation of adversarial robustness
// with an ensemble of diverse parameter-free attacks", ICML 2020), as fra31
// auto-attack `autopgd_base.py` (attacks.md §4). Norms: Linf, L2, L1 (the L1 rule is in apgd-l1.ts).
//
// Options (defaults = AutoAttack):
//   eps (required), norm 'Linf', nIter 100, nRestarts 1, loss 'ce' ('dlr' = APGD-DLR, needs K ≥ 3),
//   eotIter 1 (AA 'rand': 20), rho 0.75, seed 0, useLargeReps false (L1 only; AA L1: true).
// Step size starts at 2·eps and halves at checkpoints (apgdCheckpoints) where the
// loss oscillated (≤ rho·k increases) or stalled; after a halving the iterate
// restarts from the best point. Momentum 0.75 from the second step.
// Bookkeeping kept bit-for-bit (tested against fra31 goldens): integer
// checkpoint arithmetic, loss_steps[-1] = 0 at the first check, x_prev not reset,
// "≤" in cond1, x_best_adv = LAST misclassified iterate, restarts only on
// still-robust points, clean x returned for unbroken points.
import { Tensor, randnLike, tensor, tidy } from '../tensor/index.js';
import { sparseRule } from './apgd-l1.js';
import {
  checkEps,
  checkInt,
  checkPositive,
  pickRows,
  release,
  runOnRobust,
  warn,
  type BaseOptions,
  type PassResult,
} from './common.js';
import { lossAndGrad } from './eot.js';
import { ActiveRows, NonFiniteStop, keepRows } from './stop.js';
import { LOSSES, type LossFn, type LossName } from './losses.js';
import { normOf, perSample, type NormStrategy } from './norms.js';
import type { Attack, AttackResult, Model, Norm } from './types.js';

export interface ApgdOptions extends BaseOptions {
  /** Stop attacking a point after this many all-NaN/Inf gradient evaluations from the start (stop.ts; default 0 = never). */
  stopNonFinite?: number;
  nIter?: number;
  nRestarts?: number;
  loss?: LossName;
  rho?: number;
  /** L1 only: the 3·eps, 2·eps, eps schedule (AutoAttack L1 sets it; default false). */
  useLargeReps?: boolean;
}

/** fra31 integer checkpoint parameters for n iterations: [k0 (first gap), kMin, kDecrement]. */
export function checkpointParams(nIter: number): [number, number, number] {
  const p = (f: number): number => Math.max(Math.trunc(f * nIter), 1);
  return [p(0.22), p(0.06), p(0.03)];
}

/**
 * Iteration counts after which APGD checks its step size (fra31 integer form):
 * a counter of iterations since the last check reaches k, then k ← max(k − kDec, kMin).
 *
 *     apgdCheckpoints(100) -> [22, 41, 57, 70, 80, 87, 93, 99]
 */
export function apgdCheckpoints(nIter: number): number[] {
  const [k0, kMin, kDec] = checkpointParams(nIter);
  const out: number[] = [];
  for (let at = k0, k = k0; at <= nIter; k = Math.max(k - kDec, kMin), at += k) out.push(at);
  return out;
}

export interface SingleRunConfig {
  norm: NormStrategy;
  eps: number;
  nIter: number;
  lossFn: LossFn;
  eotIter: number;
  rho: number;
  /** Start here instead of the random start (the random draw still happens, as fra31). */
  xInit?: Tensor;
  /** Warn on all-zero start gradients (fra31 does for DLR losses). */
  checkZeroGrad?: boolean;
  /**
   * Stop attacking a point once its first `stopNonFinite` gradient evaluations each had NaN/Inf in
   * every EOT sample (stop.ts; 0 = never, the default). fra31 would step by sign(NaN) = 0 there.
   */
  stopNonFinite?: number;
}

export interface SingleRunResult {
  /** [B, ...] highest-loss iterate. */
  xBest: Tensor;
  /** [B, ...] last misclassified iterate (the start point where never misclassified). */
  xBestAdv: Tensor;
  /** Per point: never misclassified. */
  acc: boolean[];
  lossBest: number[];
  /** Loss per iterate x⁰ … x^N (before any reset to x_best): [N + 1][B]. */
  lossTrace: number[][];
  nonFinite: boolean[];
  /** Per point: the largest distance (in the attack's norm) an iterate reached from the start point. */
  moved: number[];
  /** Per point: stopped early, its gradients all NaN/Inf (stopNonFinite). */
  stopped: boolean[];
  queries: number;
}

/** Per-sample state carried between iterations. */
export type RunState = {
  xAdv: Tensor;
  xPrev: Tensor;
  g: Tensor;
  xBest: Tensor;
  gBest: Tensor;
  xBestAdv: Tensor;
};

/** Loss history a checkpoint rule reads: lossSteps[i][b] (zero-filled N×B), lossBest[b]. */
export interface History {
  readonly lossSteps: readonly (readonly number[])[];
  readonly lossBest: readonly number[];
}

/** What differs between norms (fra31: Linf/L2 momentum + halving vs L1 sparse steps + adaptive sparsity). */
export interface StepRule {
  /** The next iterate x_{i+1} from the state. */
  step(s: RunState, i: number): Tensor;
  /** After iteration i: per point "restart from x_best" flags at a checkpoint, else null. */
  check(i: number, s: RunState, h: History): boolean[] | null;
  /** The same rule on the rows where keep[b] (x, x0: those rows of the clean batch and the start); stop.ts. */
  narrow?(keep: readonly boolean[], x: Tensor, x0: Tensor): StepRule;
}

/** Builds the rule of a run: x the clean batch, x0 the start, customInit = an xInit was given. */
export type RuleFactory = (x: Tensor, x0: Tensor, cfg: SingleRunConfig, customInit: boolean) => StepRule;

/**
 * One APGD run (fra31 `attack_single_run`) on x: [B, ...], y: int64 [B].
 * Draws the random start from the global RNG. Returned tensors belong to the caller.
 * The rule defaults to `momentumRule` (Linf, L2) or `sparseRule` (L1, apgd-l1.ts).
 * With cfg.stopNonFinite, points whose gradients are all NaN/Inf from the start leave
 * the batch (stop.ts); the others run on exactly as they would have.
 */
export function apgdSingleRun(model: Model, x: Tensor, y: Tensor, cfg: SingleRunConfig, rule?: RuleFactory): SingleRunResult {
  const B = x.size(0);
  const labels = y.toArray();
  return tidy(() => {
    const start = cfg.norm.randomStart(x, cfg.eps, 'apgd');
    const x0 = cfg.xInit === undefined ? start : cfg.xInit.clamp(0, 1);
    const act = new ActiveRows(x, y, x0);
    const evaluate = (xa: Tensor) => {
      const r = lossAndGrad(model, xa, act.y, cfg.lossFn, cfg.eotIter);
      const pred = r.logits.argmax(1).toArray();
      return { ...r, loss: r.loss.toArray(), ok: pred.map((p, j) => p === labels[act.rows[j] as number]) };
    };
    const e0 = evaluate(x0);
    if (cfg.checkZeroGrad === true) warnZeroGrad(e0.grad, e0.nonFinite);
    let s: RunState = { xAdv: x0, xPrev: x0, g: e0.grad, xBest: x0, gBest: e0.grad, xBestAdv: x0 };
    // per point of the batch (row j of the tensors is point act.rows[j])
    const acc = e0.ok.slice();
    const lossBest = e0.loss.slice();
    const lossTrace = [e0.loss];
    const nonFinite = e0.nonFinite.slice();
    const moved = new Array<number>(B).fill(0);
    let queries = e0.queries;
    // NOTE: loss_steps is a zero-filled N×B buffer; the first check reads row -1 = row N−1 (still 0).
    const lossSteps = Array.from({ length: cfg.nIter }, () => new Array<number>(B).fill(0));
    let stepRule = (rule ?? (cfg.norm.name === 'L1' ? sparseRule : momentumRule))(x, x0, cfg, cfg.xInit !== undefined);
    const stop = new NonFiniteStop(stepRule.narrow === undefined ? 0 : (cfg.stopNonFinite ?? 0), B);
    const stopped = new Array<boolean>(B).fill(false);
    const narrow = (allNonFinite: readonly boolean[]): void => {
      const keep = stop.update(act.rows, allNonFinite);
      if (keep === null) return;
      act.rows.forEach((q, j) => (stopped[q] = !keep[j]));
      const next = act.narrow(keep, s, ['xBest', 'xBestAdv']);
      release(s, next);
      s = next;
      stepRule = (stepRule.narrow as NonNullable<StepRule['narrow']>)(keep, act.x, act.x0);
    };
    narrow(e0.allNonFinite);
    for (let i = 0; i < cfg.nIter; i++) {
      if (act.rows.length === 0) {
        lossTrace.push(new Array<number>(B).fill(NaN));
        continue;
      }
      const prev = s;
      const all = act.rows.length === B;
      let allNonFinite: boolean[] = [];
      s = tidy((): RunState => {
        const xNew = stepRule.step(prev, i);
        const e = evaluate(xNew);
        allNonFinite = e.allNonFinite;
        queries += e.queries;
        const rows = act.rows;
        const dist = cfg.norm.distance(xNew, act.x0).toArray();
        rows.forEach((q, j) => {
          nonFinite[q] = (nonFinite[q] as boolean) || (e.nonFinite[j] as boolean);
          acc[q] = (acc[q] as boolean) && (e.ok[j] as boolean);
          moved[q] = Math.max(moved[q] as number, dist[j] as number);
        });
        const improved = e.loss.map((l, j) => l > (lossBest[rows[j] as number] as number));
        improved.forEach((up, j) => up && (lossBest[rows[j] as number] = e.loss[j] as number));
        lossSteps[i] = all ? e.loss : act.spread(e.loss, 0);
        lossTrace.push(all ? e.loss : act.spread(e.loss, NaN));
        const wrong = e.ok.map((ok) => !ok);
        const next: RunState = {
          xAdv: xNew,
          xPrev: prev.xAdv,
          g: e.grad,
          xBest: pickRows(improved, xNew, prev.xBest),
          gBest: pickRows(improved, e.grad, prev.gBest),
          xBestAdv: pickRows(wrong, xNew, prev.xBestAdv),
        };
        const h = all ? { lossSteps, lossBest } : { lossSteps: lossSteps.map((r) => act.pick(r)), lossBest: act.pick(lossBest) };
        const reset = stepRule.check(i, next, h);
        if (reset === null) return next;
        return { ...next, xAdv: pickRows(reset, next.xBest, next.xAdv), g: pickRows(reset, next.gBest, next.g) };
      });
      release(prev, s);
      narrow(allNonFinite);
    }
    const xBest = act.assemble('xBest', s.xBest);
    const xBestAdv = act.assemble('xBestAdv', s.xBestAdv);
    return { xBest, xBestAdv, acc, lossBest, lossTrace, nonFinite, moved, stopped, queries };
  });
}

/**
 * fra31 Linf/L2 rule. Step: x_{i+1} = P(x_i + a(z − x_i) + (1 − a)(x_i − x_prev)),
 * z = P(x_i + η·normalizeGrad(g)), a = 1 then 0.75, η₀ = 2·eps. Checkpoints
 * (apgdCheckpoints): halve η where the loss oscillated (cond1: ≤ rho·k increases
 * over the last k steps) or stalled after no reduction (cond2).
 */
export const momentumRule: RuleFactory = (x, _x0, cfg) =>
  momentum(x, cfg, {
    eta: new Array<number>(x.size(0)).fill(2 * cfg.eps),
    k: checkpointParams(cfg.nIter)[0],
    counter: 0,
    // NOTE: fra31 starts it at the start loss, but cond2 is off at the first check (reducedLastCheck = true).
    lossBestLastCheck: [],
    reducedLastCheck: new Array<boolean>(x.size(0)).fill(true),
  });

/** The momentum rule's per-point step sizes and checkpoint bookkeeping. */
interface MomentumState {
  eta: number[];
  k: number;
  counter: number;
  lossBestLastCheck: readonly number[];
  reducedLastCheck: boolean[];
}

function momentum(x: Tensor, cfg: SingleRunConfig, st: MomentumState): StepRule {
  const B = x.size(0);
  const [, kMin, kDec] = checkpointParams(cfg.nIter);
  return {
    step: (s, i) =>
      tidy(() => {
        const a = i === 0 ? 1 : 0.75;
        const m = s.xAdv.sub(s.xPrev);
        const step = perSample(tensor(st.eta, [B], x.dtype, x.device), x);
        const z = cfg.norm.project(s.xAdv.add(step.mul(cfg.norm.normalizeGrad(s.g))), x, cfg.eps);
        // NOTE: the same expression as fra31 (x + (z − x)·a + m·(1 − a)), even at a = 1, for bit parity.
        return cfg.norm.project(s.xAdv.add(z.sub(s.xAdv).mul(a)).add(m.mul(1 - a)), x, cfg.eps);
      }),
    check(i, _s, h) {
      if (++st.counter < st.k) return null;
      const last = st.lossBestLastCheck;
      const red = h.lossBest.map((lb, b) => {
        let inc = 0;
        for (let c = 0; c < st.k; c++)
          inc += (h.lossSteps[i - c]?.[b] as number) > (h.lossSteps.at(i - c - 1)?.[b] as number) ? 1 : 0;
        const cond2 = !st.reducedLastCheck[b] && (last[b] as number) >= lb;
        return inc <= st.k * cfg.rho || cond2;
      });
      st.reducedLastCheck = red;
      st.lossBestLastCheck = h.lossBest.slice();
      red.forEach((r, b) => r && (st.eta[b] = (st.eta[b] as number) / 2));
      st.k = Math.max(st.k - kDec, kMin);
      st.counter = 0;
      return red;
    },
    narrow: (keep, xk) =>
      momentum(xk, cfg, {
        ...st,
        eta: keepRows(st.eta, keep),
        lossBestLastCheck: keepRows(st.lossBestLastCheck, keep),
        reducedLastCheck: keepRows(st.reducedLastCheck, keep),
      }),
  };
}

/**
 * fra31 `check_zero_gradients`: warn (only) when some point has an all-zero gradient. NOTE: a point
 * whose gradient was NaN/Inf (zeroed by lossAndGrad) is not counted: fra31's Σ|g| is NaN there.
 */
function warnZeroGrad(g: Tensor, nonFinite: readonly boolean[]): void {
  const n = tidy(() => g.abs().reshape(g.size(0), -1).sum(1).eq(0).toArray()).filter(
    (z, b) => z !== 0 && nonFinite[b] !== true,
  ).length;
  if (n > 0) warn(`APGD: there are ${n} points with zero gradient; use BPDA or Square if the model masks gradients`);
}

/** Resolved APGD settings shared by APGD and APGD-T. */
export interface ApgdSettings {
  norm: Norm;
  eps: number;
  nIter: number;
  nRestarts: number;
  eotIter: number;
  rho: number;
  seed: number;
  useLargeReps: boolean;
  stopNonFinite: number;
}

/** Checks and fills in the options shared by APGD and APGD-T. */
export function apgdSettings(name: string, o: ApgdOptions): ApgdSettings {
  checkEps(name, o.eps);
  const s = {
    norm: o.norm ?? 'Linf',
    eps: o.eps,
    nIter: o.nIter ?? 100,
    nRestarts: o.nRestarts ?? 1,
    eotIter: o.eotIter ?? 1,
    rho: o.rho ?? 0.75,
    seed: o.seed ?? 0,
    useLargeReps: o.useLargeReps ?? false,
    stopNonFinite: o.stopNonFinite ?? 0,
  };
  checkInt(name, 'nIter', s.nIter, s.useLargeReps ? 2 : 1);
  checkInt(name, 'nRestarts', s.nRestarts, 1);
  checkInt(name, 'eotIter', s.eotIter, 1);
  checkInt(name, 'seed', s.seed, 0);
  checkInt(name, 'stopNonFinite', s.stopNonFinite, 0);
  checkPositive(name, 'rho', s.rho, 1);
  if (s.useLargeReps && s.norm !== 'L1') throw new Error(`${name}: useLargeReps needs norm 'L1' (got '${s.norm}')`);
  return s;
}

/**
 * fra31 `decr_eps_pgd` (L1, useLargeReps): runs at 3·eps, 2·eps, eps for ⌈0.3N⌉, ⌈0.3N⌉
 * and the remaining iterations, each starting from the previous run's x_best
 * (the first from x + N(0, I)) projected onto the current ball.
 */
export function largeRepsRun(model: Model, x: Tensor, y: Tensor, cfg: SingleRunConfig): SingleRunResult {
  const iters = [Math.ceil(0.3 * cfg.nIter), Math.ceil(0.3 * cfg.nIter)];
  iters.push(cfg.nIter - (iters[0] as number) - (iters[1] as number));
  return tidy(() => {
    let xInit = x.add(randnLike(x));
    let res: SingleRunResult | null = null;
    const B = x.size(0);
    let [queries, nonFinite, moved, stopped] = [
      0,
      new Array<boolean>(B).fill(false),
      new Array<number>(B).fill(0),
      new Array<boolean>(B).fill(false),
    ];
    for (const [s, mult] of [3, 2, 1].entries()) {
      const eps = mult * cfg.eps;
      xInit = cfg.norm.project(xInit, x, eps);
      res = apgdSingleRun(model, x, y, { ...cfg, eps, nIter: iters[s] as number, xInit });
      xInit = res.xBest;
      queries += res.queries;
      const r = res;
      nonFinite = nonFinite.map((f, b) => f || (r.nonFinite[b] as boolean));
      moved = moved.map((m, b) => Math.max(m, r.moved[b] as number));
      stopped = stopped.map((f, b) => f || (r.stopped[b] as boolean));
    }
    // acc, x_best_adv, losses: the last (eps) stage's, as fra31; queries, NaN flags, moves and stops: all stages
    return { ...(res as SingleRunResult), queries, nonFinite, moved, stopped };
  });
}

/** A single run (or the L1 large-eps schedule) as a restart pass of the robust-points driver. */
export function apgdPass(
  model: Model,
  s: ApgdSettings,
  lossFn: LossFn,
  x: Tensor,
  y: Tensor,
  checkZeroGrad: boolean,
): PassResult {
  const { stopNonFinite } = s;
  const cfg = {
    norm: normOf(s.norm),
    eps: s.eps,
    nIter: s.nIter,
    lossFn,
    eotIter: s.eotIter,
    rho: s.rho,
    checkZeroGrad,
    stopNonFinite,
  };
  const r = s.useLargeReps ? largeRepsRun(model, x, y, cfg) : apgdSingleRun(model, x, y, cfg);
  const { nonFinite, moved, stopped, queries } = r;
  return { xAdv: r.xBestAdv, fooled: r.acc.map((a) => !a), nonFinite, moved, stopped, queries };
}

/** APGD-CE / APGD-DLR (untargeted). */
export class APGD implements Attack {
  readonly name: string;
  readonly norm: Norm;
  readonly eps: number;
  private readonly s: ApgdSettings;
  private readonly loss: LossName;

  constructor(opts: ApgdOptions) {
    this.loss = opts.loss ?? 'ce';
    this.name = `apgd-${this.loss}`;
    this.s = apgdSettings(this.name, opts);
    this.norm = this.s.norm;
    this.eps = this.s.eps;
  }

  attack(model: Model, x: Tensor, y: Tensor): AttackResult {
    const lossFn = LOSSES[this.loss];
    const dlr = this.loss === 'dlr';
    const opts = { passes: this.s.nRestarts, seed: this.s.seed, minClasses: dlr ? 3 : 2 };
    return runOnRobust(this.name, model, x, y, opts, (xs, ys) => apgdPass(model, this.s, lossFn, xs, ys, dlr));
  }
}
