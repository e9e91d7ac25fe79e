// Learning-rate schedules as pure functions of the step (or epoch) index, so
// resuming is just "set t": no chained state to replay. Each equals the
// closed form of its PyTorch scheduler; t is the number of scheduler steps
// taken, i.e. lr(0) is in force before the first `LRScheduler.step()`.
//
//     const sched = new LRScheduler(opt, multiStep([30, 60], 0.1));
//     for (let epoch = 0; epoch < 90; epoch++) { trainEpoch(); sched.step(); }
import type { OptimizerLike } from './optimizer.js';

/** The lr in force at step t for a group whose base lr is `base`. */
export type Schedule = (t: number, base: number) => number;

/** base * gamma^(number of milestones <= t), repeats counting twice (MultiStepLR). */
export function multiStep(milestones: readonly number[], gamma = 0.1): Schedule {
  return (t, base) => base * gamma ** milestones.filter((m) => m <= t).length;
}

export interface CosineOptions {
  /** Length of the schedule; with warm-up, the cosine phase spans tMax - warmup steps. */
  tMax: number;
  /** default 0 */
  etaMin?: number;
  /** linear warm-up steps, default 0 */
  warmup?: number;
  /** warm-up starts at base * this, default 1/3 (as LinearLR) */
  warmupStartFactor?: number;
}

/**
 * Cosine annealing from base to etaMin over tMax steps (CosineAnnealingLR's
 * closed form; past tMax it rises again, as PyTorch). With `warmup`, first a
 * linear ramp from base * warmupStartFactor (SequentialLR(LinearLR, CosineAnnealingLR)).
 */
export function cosine(o: CosineOptions): Schedule {
  const etaMin = o.etaMin ?? 0;
  const w = o.warmup ?? 0;
  const sf = o.warmupStartFactor ?? 1 / 3;
  const T = o.tMax - w;
  if (T <= 0) throw new Error(`cosine: tMax (${o.tMax}) must exceed warmup (${w})`);
  return (t, base) => {
    if (t < w) return base * (sf + ((1 - sf) * t) / w);
    return etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * (t - w)) / T))) / 2;
  };
}

export interface OneCycleOptions {
  totalSteps: number;
  /** fraction of steps going up, default 0.3 */
  pctStart?: number;
  /** default 'cos' */
  anneal?: 'cos' | 'linear';
  /** initial lr = base / divFactor, default 25 */
  divFactor?: number;
  /** min lr = initial lr / finalDivFactor, default 1e4 */
  finalDivFactor?: number;
  /** up, back down to the initial lr, then down to min lr; default false */
  threePhase?: boolean;
}

type Level = 'initial' | 'max' | 'min';
interface Phase {
  end: number;
  lr: [Level, Level];
  /** momentum goes max -> base while lr goes up, and back */
  momentum: ['max' | 'base', 'max' | 'base'];
}

function oneCyclePhases(o: OneCycleOptions): Phase[] {
  const T = o.totalSteps;
  const pct = o.pctStart ?? 0.3;
  if (o.threePhase)
    return [
      { end: pct * T - 1, lr: ['initial', 'max'], momentum: ['max', 'base'] },
      { end: 2 * pct * T - 2, lr: ['max', 'initial'], momentum: ['base', 'max'] },
      { end: T - 1, lr: ['initial', 'min'], momentum: ['max', 'max'] },
    ];
  return [
    { end: pct * T - 1, lr: ['initial', 'max'], momentum: ['max', 'base'] },
    { end: T - 1, lr: ['max', 'min'], momentum: ['base', 'max'] },
  ];
}

/** The phase step t falls in, and how far through it (OneCycleLR.get_lr). */
function oneCyclePosition(o: OneCycleOptions, t: number): { phase: Phase; pct: number } {
  if (t > o.totalSteps) throw new Error(`oneCycle: step ${t} is past totalSteps ${o.totalSteps}`);
  const phases = oneCyclePhases(o);
  let start = 0;
  for (const [i, phase] of phases.entries()) {
    if (t <= phase.end || i === phases.length - 1) return { phase, pct: (t - start) / (phase.end - start) };
    start = phase.end;
  }
  throw new Error('unreachable');
}

function annealBetween(kind: 'cos' | 'linear', start: number, end: number, pct: number): number {
  return kind === 'cos' ? end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1) : (end - start) * pct + start;
}

/** The 1cycle policy (Smith & Topin), as OneCycleLR; `base` is the peak (max_lr). */
export function oneCycle(o: OneCycleOptions): Schedule {
  const div = o.divFactor ?? 25;
  const finalDiv = o.finalDivFactor ?? 1e4;
  return (t, base) => {
    const { phase, pct } = oneCyclePosition(o, t);
    const level: Record<Level, number> = { initial: base / div, max: base, min: base / div / finalDiv };
    return annealBetween(o.anneal ?? 'cos', level[phase.lr[0]], level[phase.lr[1]], pct);
  };
}

/** OneCycleLR's momentum cycle (cycle_momentum=True): maxMomentum 0.95 -> baseMomentum 0.85 -> back. */
export function oneCycleMomentum(o: OneCycleOptions & { baseMomentum?: number; maxMomentum?: number }): (t: number) => number {
  const value = { base: o.baseMomentum ?? 0.85, max: o.maxMomentum ?? 0.95 };
  return (t) => {
    const { phase, pct } = oneCyclePosition(o, t);
    return annealBetween(o.anneal ?? 'cos', value[phase.momentum[0]], value[phase.momentum[1]], pct);
  };
}

export interface WarmupFlatDecayOptions {
  initLr: number;
  steadyLr: number;
  finalLr: number;
  /** at least 3 are used */
  warmupEpochs: number;
  /** at least 1 is used */
  flatEpochs: number;
  /** at least 3 are used */
  decayEpochs: number;
}

/**
 * Linear warm-up from initLr to steadyLr over W = max(3, warmupEpochs) epochs,
 * flat for F = max(1, flatEpochs), then linear decay to finalLr over
 * D = max(3, decayEpochs), then flat at finalLr: ebtorch's warmed_up_linneal
 * (carso.md 3.6). Like its LinearLR factors, init and final scale with `base`
 * (normally base = steadyLr).
 *   lr(e) = base * (s + (1 - s) e / W)            e < W,  s = initLr / steadyLr
 *         = base                                  W <= e < W + F
 *         = base * (1 + (f - 1) min(e - W - F, D) / D)   f = finalLr / steadyLr
 */
export function warmupFlatDecay(o: WarmupFlatDecayOptions): Schedule {
  const W = Math.max(3, o.warmupEpochs);
  const F = Math.max(1, o.flatEpochs);
  const D = Math.max(3, o.decayEpochs);
  const s = o.initLr / o.steadyLr;
  const f = o.finalLr / o.steadyLr;
  return (e, base) => {
    if (e < W) return base * (s + ((1 - s) * e) / W);
    if (e < W + F) return base;
    return base * (1 + ((f - 1) * Math.min(e - W - F, D)) / D);
  };
}

/** A checkpoint of an LRScheduler (plain JSON). */
export interface LRSchedulerState {
  t: number;
  baseLrs: number[];
}

/**
 * Sets each group's lr to schedule(t, base lr of the group); optionally also
 * its momentum (SGD's momentum, the Adam family's betas[0]), as OneCycleLR.
 * Base lrs are the groups' lrs at construction unless given.
 */
export class LRScheduler {
  t = 0;
  baseLrs: number[];

  constructor(
    readonly optimizer: Pick<OptimizerLike, 'paramGroups'>,
    readonly schedule: Schedule,
    readonly opts: { baseLrs?: readonly number[]; momentum?: (t: number) => number } = {},
  ) {
    this.baseLrs = [...(opts.baseLrs ?? optimizer.paramGroups.map((g) => g.lr))];
    if (this.baseLrs.length !== optimizer.paramGroups.length) throw new Error('LRScheduler: one base lr per param group');
    this.apply();
  }

  /** Advances one step (or epoch) and sets the new lr. */
  step(): void {
    this.t += 1;
    this.apply();
  }

  /** The lr of each group now. */
  lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): LRSchedulerState {
    return { t: this.t, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(s: LRSchedulerState): void {
    if (s.baseLrs.length !== this.baseLrs.length) throw new Error('LRScheduler.loadStateDict: wrong number of groups');
    this.t = s.t;
    this.baseLrs = [...s.baseLrs];
    this.apply();
  }

  private apply(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      g.lr = this.schedule(this.t, this.baseLrs[i]!);
      if (this.opts.momentum === undefined) return;
      const m = this.opts.momentum(this.t);
      if (g.betas !== undefined) g.betas = [m, g.betas[1]];
      else if (g.momentum !== undefined) g.momentum = m;
      else throw new Error('LRScheduler: momentum schedule given, but the optimiser has neither momentum nor betas');
    });
  }
}
