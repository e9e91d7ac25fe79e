// PGD (Madry et al., "Towards deep learning models resistant to adversarial
// attacks", ICLR 2018; torchattacks PGD / PGDL2), attacks.md §3. Norms: Linf, L2.
//
//   x⁰ = randomStart ? P(x + uniform start) : x
//   x^{k+1} = P(x^k + alpha·normalizeGrad(∇ loss(x^k)))     (step → eps-ball → [0, 1] box)
//
// Options (torchattacks defaults): eps (required), norm 'Linf', steps 10,
// alpha eps/4 (Linf: 2/255 at 8/255) or eps/5 (L2: 0.2 at 1.0), randomStart true
// (Linf U(−eps, eps)^d; L2 Gaussian direction, uniform radius), nRestarts 1,
// loss 'ce', eotIter 1, seed 0, restarts:
//   'autoattack' (default): each restart attacks only the still-robust points and the
//     first misclassified iterate found is kept (fra31 convention);
//   'max-loss': every restart runs on every point, the iterate with the largest final
//     loss is kept (locuslab `attack_pgd`, ≥ comparison starting from 0).
// Returned: a misclassified iterate where one was found, else the clean x (use `pgdRun`
// for the raw final iterates, e.g. in adversarial training).
import { Tensor, noGrad, tidy } from '../tensor/index.js';
import {
  checkEps,
  checkInt,
  checkPositive,
  pickRows,
  release,
  runOnRobust,
  type BaseOptions,
  type PassResult,
} from './common.js';
import { lossAndGrad } from './eot.js';
import { ActiveRows, NonFiniteStop } from './stop.js';
import { LOSSES, type LossFn, type LossName } from './losses.js';
import { normOf, type NormStrategy } from './norms.js';
import type { Attack, AttackResult, Model, Norm } from './types.js';

export interface PgdOptions extends BaseOptions {
  steps?: number;
  alpha?: number;
  randomStart?: boolean;
  nRestarts?: number;
  loss?: LossName;
  restarts?: 'autoattack' | 'max-loss';
  /** Stop attacking a point after this many all-NaN/Inf gradient evaluations from the start (stop.ts; default 0 = never). */
  stopNonFinite?: number;
}

export interface PgdRunConfig {
  norm: NormStrategy;
  eps: number;
  alpha: number;
  steps: number;
  randomStart: boolean;
  lossFn: LossFn;
  eotIter: number;
  /** See PgdOptions (default 0). */
  stopNonFinite?: number;
}

export interface PgdRunResult {
  /** [B, ...] final iterate x^steps (where a point stopped early: its iterate then). */
  xAdv: Tensor;
  /** [B, ...] last misclassified iterate (x where none was). */
  xBestAdv: Tensor;
  fooled: boolean[];
  /** Loss at the final iterate. */
  finalLoss: number[];
  nonFinite: boolean[];
  /** Per point: the largest distance an iterate reached from the start point. */
  moved: number[];
  /** Per point: stopped early, its gradients all NaN/Inf (stopNonFinite). */
  stopped: boolean[];
  queries: number;
  /** Mean (over points still attacked) loss at each iterate x^0 .. x^(steps-1), last EOT sample (for diagnostics). */
  lossTrace: number[];
}

/** One PGD run on every point of x: [B, ...] (y: int64 [B]); tensors belong to the caller. */
export function pgdRun(model: Model, x: Tensor, y: Tensor, c: PgdRunConfig): PgdRunResult {
  const labels = y.toArray();
  const B = labels.length;
  const nonFinite = new Array<boolean>(B).fill(false);
  const fooled = new Array<boolean>(B).fill(false);
  const moved = new Array<number>(B).fill(0);
  const stopped = new Array<boolean>(B).fill(false);
  const stop = new NonFiniteStop(c.stopNonFinite ?? 0, B);
  let queries = 0;
  const lossTrace: number[] = [];
  // marks iterate xa where misclassified (logits z at xa); rows[j] = the point of row j
  const record = (rows: readonly number[], xa: Tensor, z: Tensor, best: Tensor): Tensor => {
    const wrong = z
      .argmax(1)
      .toArray()
      .map((p, j) => p !== labels[rows[j] as number]);
    rows.forEach((q, j) => (fooled[q] = (fooled[q] as boolean) || (wrong[j] as boolean)));
    return pickRows(wrong, xa, best);
  };
  return tidy(() => {
    const x0 = c.randomStart ? c.norm.randomStart(x, c.eps, 'uniform') : x;
    const act = new ActiveRows(x, y, x0);
    let st = { xa: x0, best: x };
    for (let k = 0; k < c.steps && act.rows.length > 0; k++) {
      const prev = st;
      let allNonFinite: boolean[] = [];
      st = tidy(() => {
        const e = lossAndGrad(model, prev.xa, act.y, c.lossFn, c.eotIter);
        allNonFinite = e.allNonFinite;
        queries += e.queries;
        lossTrace.push(e.loss.mean().item());
        act.rows.forEach((q, j) => (nonFinite[q] = (nonFinite[q] as boolean) || (e.nonFinite[j] as boolean)));
        const best = record(act.rows, prev.xa, e.logits, prev.best);
        const xa = c.norm.project(prev.xa.add(c.norm.normalizeGrad(e.grad).mul(c.alpha)), act.x, c.eps);
        const dist = c.norm.distance(xa, act.x0).toArray();
        act.rows.forEach((q, j) => (moved[q] = Math.max(moved[q] as number, dist[j] as number)));
        return { xa, best };
      });
      release(prev, { ...st, x });
      const keep = stop.update(act.rows, allNonFinite);
      if (keep === null) continue;
      act.rows.forEach((q, j) => (stopped[q] = !keep[j]));
      const next = act.narrow(keep, st, ['xa', 'best']);
      release(st, { ...next, x });
      st = next;
    }
    const xa = act.assemble('xa', st.xa);
    const all = [...Array(B).keys()];
    const final = noGrad(() =>
      tidy(() => {
        const z = model.forward(xa);
        return { z, loss: c.lossFn(z, y).toArray() };
      }),
    );
    queries += 1;
    const best = record(all, xa, final.z, act.assemble('best', st.best));
    const xBestAdv = best === x ? x.clone() : best;
    return { xAdv: xa, xBestAdv, fooled, finalLoss: final.loss, nonFinite, moved, stopped, queries, lossTrace };
  });
}

export class PGD implements Attack {
  readonly name = 'pgd';
  readonly norm: Norm;
  readonly eps: number;
  private readonly cfg: PgdRunConfig;
  private readonly nRestarts: number;
  private readonly seed: number;
  private readonly restarts: 'autoattack' | 'max-loss';

  constructor(o: PgdOptions) {
    checkEps(this.name, o.eps);
    this.norm = o.norm ?? 'Linf';
    if (this.norm === 'L1') throw new Error(`pgd: norm must be 'Linf' or 'L2' (got 'L1')`);
    this.eps = o.eps;
    const alpha = o.alpha ?? (this.norm === 'Linf' ? o.eps / 4 : o.eps / 5);
    checkPositive(this.name, 'alpha', alpha);
    const steps = o.steps ?? 10;
    const eotIter = o.eotIter ?? 1;
    this.nRestarts = o.nRestarts ?? 1;
    this.seed = o.seed ?? 0;
    this.restarts = o.restarts ?? 'autoattack';
    for (const [k, v, min] of [
      ['steps', steps, 1],
      ['eotIter', eotIter, 1],
      ['nRestarts', this.nRestarts, 1],
      ['seed', this.seed, 0],
    ] as const)
      checkInt(this.name, k, v, min);
    const stopNonFinite = o.stopNonFinite ?? 0;
    checkInt(this.name, 'stopNonFinite', stopNonFinite, 0);
    this.cfg = {
      stopNonFinite,
      norm: normOf(this.norm),
      eps: o.eps,
      alpha,
      steps,
      randomStart: o.randomStart ?? true,
      lossFn: LOSSES[o.loss ?? 'ce'],
      eotIter,
    };
  }

  attack(model: Model, x: Tensor, y: Tensor): AttackResult {
    const maxLoss = this.restarts === 'max-loss';
    const opts = { passes: maxLoss ? 1 : this.nRestarts, seed: this.seed };
    return runOnRobust(this.name, model, x, y, opts, (xs, ys) =>
      maxLoss ? this.maxLossPass(model, xs, ys) : this.pass(model, xs, ys),
    );
  }

  private pass(model: Model, x: Tensor, y: Tensor): PassResult {
    const r = pgdRun(model, x, y, this.cfg);
    return { xAdv: r.xBestAdv, fooled: r.fooled, nonFinite: r.nonFinite, moved: r.moved, stopped: r.stopped, queries: r.queries };
  }

  /** locuslab convention: all restarts on all points, keep the largest final loss. */
  private maxLossPass(model: Model, x: Tensor, y: Tensor): PassResult {
    const B = x.size(0);
    let bestLoss = new Array<number>(B).fill(0);
    let xAdv = x;
    const out: PassResult = {
      xAdv: x,
      fooled: new Array<boolean>(B).fill(false),
      nonFinite: new Array<boolean>(B).fill(false),
      queries: 0,
    };
    for (let r = 0; r < this.nRestarts; r++) {
      const run = pgdRun(model, x, y, this.cfg);
      const better = run.finalLoss.map((l, i) => l >= (bestLoss[i] as number));
      xAdv = pickRows(better, run.xAdv, xAdv);
      bestLoss = bestLoss.map((l, i) => (better[i] ? (run.finalLoss[i] as number) : l));
      out.queries += run.queries;
      run.nonFinite.forEach((f, i) => (out.nonFinite[i] = (out.nonFinite[i] ?? false) || f));
    }
    const labels = y.toArray();
    const pred = noGrad(() => tidy(() => model.forward(xAdv).argmax(1).toArray()));
    return { ...out, xAdv, fooled: pred.map((p, i) => p !== labels[i]), queries: out.queries + 1 };
  }
}
