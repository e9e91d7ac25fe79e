// Square Attack (Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a
// query-efficient black-box adversarial attack via random search", ECCV 2020),
// as fra31 auto-attack `square.py` (attacks.md §6). Norms: Linf, L2.
//
// Options (defaults = fra31 class defaults; AutoAttack: `squareAA(norm, eps)`):
//   eps (required), norm 'Linf', nQueries 5000, pInit 0.8, nRestarts 1,
//   loss 'margin' ('ce': minimise −CE), rescSchedule true (AA: false), seed 0.
// Score-based: only forward passes (never autograd). Random search over square
// windows whose side follows the p schedule; a candidate replaces the current
// point when it lowers the loss or misclassifies. Queries (forward passes per
// point) are counted; the loop stops once every point is misclassified.
// As fra31 (not the original max-andr code): window position and colours are
// shared by the whole batch, no re-draw when a window changes nothing, every
// random draw comes from libtorch's CPU generator in fra31's order.
import { Tensor, cat, fullLike, noGrad, op, rand, tensor, tidy, zeros, zerosLike } from '../tensor/index.js';
import { checkEps, checkInt, checkPositive, ids, runOnRobust, type BaseOptions, type PassResult } from './common.js';
import { ceLoss, margin } from './losses.js';
import { L2, Linf } from './norms.js';
import type { Attack, AttackResult, Model, Norm } from './types.js';

export type SquareNorm = 'Linf' | 'L2';

export interface SquareOptions extends BaseOptions {
  /** 'Linf' or 'L2' ('L1' is rejected: fra31's L1 variant is not ported). */
  norm?: Norm;
  nQueries?: number;
  pInit?: number;
  nRestarts?: number;
  loss?: 'margin' | 'ce';
  rescSchedule?: boolean;
}

/** Resolved Square settings. */
export interface SquareSettings {
  norm: SquareNorm;
  eps: number;
  nQueries: number;
  pInit: number;
  nRestarts: number;
  loss: 'margin' | 'ce';
  rescSchedule: boolean;
  seed: number;
}

/** Checks and fills in Square options. */
export function squareSettings(name: string, o: SquareOptions): SquareSettings {
  checkEps(name, o.eps);
  const norm = o.norm ?? 'Linf';
  if (norm === 'L1') throw new Error(`${name}: norm must be 'Linf' or 'L2' (got 'L1')`);
  const s: SquareSettings = {
    norm,
    eps: o.eps,
    nQueries: o.nQueries ?? 5000,
    pInit: o.pInit ?? 0.8,
    nRestarts: o.nRestarts ?? 1,
    loss: o.loss ?? 'margin',
    rescSchedule: o.rescSchedule ?? true,
    seed: o.seed ?? 0,
  };
  checkInt(name, 'nQueries', s.nQueries, 1);
  checkInt(name, 'nRestarts', s.nRestarts, 1);
  checkInt(name, 'seed', s.seed, 0);
  checkPositive(name, 'pInit', s.pInit, 1);
  if ((o.eotIter ?? 1) !== 1) throw new Error(`${name}: Square is score-based, no EOT (eotIter must be 1, got ${o.eotIter})`);
  return s;
}

// ---- schedules (pure functions; exported for tests) --------------------------

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const frac = v - f;
  if (frac !== 0.5) return Math.round(v);
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Fraction p of pixels a window covers at iteration `it` (0-based; fra31 `p_selection`).
 * With rescSchedule the iteration is first mapped to a 10000-query budget.
 *
 *     pSelection(11, 0.8, 5000, false) -> 0.4
 */
export function pSelection(it: number, pInit: number, nQueries: number, rescSchedule: boolean): number {
  const i = rescSchedule ? Math.trunc((it / nQueries) * 10000) : it;
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  const halvings = bounds.filter((b) => i > b).length;
  return pInit / 2 ** halvings;
}

/**
 * Window side for an image c×h×w at fraction p: Linf max(round(√(p·h·w)), 1);
 * L2 max(round(√(p·h·w)), 3) made odd; both capped at min(h, w).
 *
 *     squareSide('Linf', 0.8, 1, 28, 28) -> 25
 */
export function squareSide(norm: SquareNorm, p: number, c: number, h: number, w: number): number {
  const nFeatures = c * h * w;
  const r = roundHalfEven(Math.sqrt((p * nFeatures) / c));
  if (norm === 'Linf') return Math.min(Math.max(r, 1), Math.min(h, w));
  const s = Math.max(r, 3);
  return Math.min(s % 2 === 0 ? s + 1 : s, Math.min(h, w));
}

/**
 * fra31 `eta_rectangles(a, b)`: nested rectangles around the centre (a//2, b//2),
 * ring n weighted 1/(n+1)², unit L2 norm; float32 [a, b] as fra31 (float32 sums).
 */
export function etaRectangles(a: number, b: number): Tensor {
  const v = new Float32Array(a * b);
  const [ca, cb] = [Math.floor(a / 2), Math.floor(b / 2)];
  for (let n = 0; n < Math.max(ca + 1, cb + 1); n++) {
    const inc = Math.fround(1 / ((n + 1) * (n + 1)));
    for (let i = Math.max(ca - n, 0); i < Math.min(ca + n + 1, a); i++)
      for (let j = Math.max(cb - n, 0); j < Math.min(cb + n + 1, b); j++)
        v[i * b + j] = Math.fround((v[i * b + j] as number) + inc);
  }
  return tidy(() => unitL2(tensor(v, [a, b], 'float32')));
}

function unitL2(t: Tensor): Tensor {
  return t.div(t.square().sum([0, 1], true).sqrt());
}

/**
 * The L2 window pattern eta(s): float32 [s, s], top ⌊s/2⌋ rows positive
 * rectangles, the rest negative, unit L2 norm, transposed when `transpose`.
 *
 *     etaPattern(5, false).select(0, 1) -> [0.04916, 0.15978, 0.60224, 0.15978, 0.04916]
 */
export function etaPattern(s: number, transpose: boolean): Tensor {
  return tidy(() => {
    const top = Math.floor(s / 2);
    const e = unitL2(cat([etaRectangles(top, s), etaRectangles(s - top, s).neg()], 0));
    return transpose ? e.transpose(0, 1) : e;
  });
}

// ---- fra31's random draws (CPU generator, float32, fra31 order) -------------

/** fra31 `random_int`: an integer in [low, high) (low when high = low). */
function randomInt(low: number, high: number): number {
  return tidy(() =>
    rand([1])
      .mul(high - low)
      .add(low)
      .long()
      .item(),
  );
}

/** fra31 `random_choice`: ±1 (sign of U(−1, 1)), float32 on the CPU generator. */
function randomChoice(shape: readonly number[], like: Tensor): Tensor {
  return tidy(() => rand(shape).mul(2).sub(1).sign().toDevice(like.device));
}

/** fra31 `eta(s)` with its coin flip for the transpose. */
function randomEta(s: number, like: Tensor): Tensor {
  return tidy(() => etaPattern(s, rand([1]).item() > 0.5).toDevice(like.device));
}

// ---- one run -----------------------------------------------------------------

/** The current best point of every example and its scores. */
interface Best {
  x: Tensor; // [B, C, H, W]
  margin: Tensor; // [B]
  loss: Tensor; // [B]
}

/** What a single Square run returns (tensors owned by the caller). */
export interface SquareRunResult {
  xBest: Tensor;
  /** Per point: forward passes spent on it (fra31 `n_queries`). */
  queriesPerPoint: number[];
  nonFinite: boolean[];
  /** Batched forward passes. */
  queries: number;
}

/** A candidate window update: the sub-batch (x, xBest) of still-correct points -> new points. */
type Proposal = (x: Tensor, xBest: Tensor, it: number) => Tensor;

/**
 * One Square run (fra31 `attack_single_run`) on x: [B, C, H, W] in [0, 1],
 * y: int64 [B]. Draws from the global RNG (seed it first).
 */
export function squareSingleRun(model: Model, x: Tensor, y: Tensor, s: SquareSettings): SquareRunResult {
  if (x.ndim !== 4) throw new Error(`square: x must be images [B, C, H, W] (got shape [${x.shape.join(', ')}])`);
  const B = x.size(0);
  const nonFinite = new Array<boolean>(B).fill(false);
  let queries = 0;
  const scores = (xs: Tensor, ys: Tensor): { margin: Tensor; loss: Tensor } =>
    tidy(() => {
      queries++;
      const z = noGrad(() => model.forward(xs));
      const m = margin(z, ys);
      // NOTE: a separate tensor even for the margin loss: both are updated in place below.
      return { margin: m, loss: s.loss === 'ce' ? ceLoss(z, ys).neg() : m.clone() };
    });
  return tidy(() => {
    const propose = s.norm === 'Linf' ? linfProposal(s) : l2Proposal(s);
    const x0 = s.norm === 'Linf' ? linfInit(x, s.eps) : l2Init(x, s.eps);
    const best: Best = { x: x0, ...scores(x0, y) };
    // NOTE: a NaN margin is never "> 0", so such points never enter the loop
    // below: flag them here or they would pass as silently robust.
    best.loss
      .isfinite()
      .logicalNot()
      .toArray()
      .forEach((bad, i) => bad !== 0 && (nonFinite[i] = true));
    const nq = new Array<number>(B).fill(1);
    if (best.margin.lt(0).all().item() === 0) {
      for (let it = 0; it < s.nQueries; it++) {
        const active = best.margin.toArray().flatMap((m, i) => (m > 0 ? [i] : []));
        if (active.length === 0) break;
        tidy(() => {
          const sel = ids(active, x);
          const [xc, xbc, yc] = [x.index(sel), best.x.index(sel), y.index(sel)];
          const [mc, lc] = [best.margin.index(sel), best.loss.index(sel)];
          const xNew = propose(xc, xbc, it);
          const r = scores(xNew, yc);
          r.loss
            .isfinite()
            .logicalNot()
            .toArray()
            .forEach((bad, j) => bad !== 0 && (nonFinite[active[j] as number] = true));
          // Keep a candidate that lowers the loss, or that misclassifies.
          const lower = r.loss.lt(lc);
          const keepNew = lower.logicalOr(r.margin.le(0));
          INDEX_COPY_.call(best.loss, 0, sel, r.loss.where(lower, lc));
          INDEX_COPY_.call(best.margin, 0, sel, r.margin.where(keepNew, mc));
          INDEX_COPY_.call(best.x, 0, sel, xNew.where(keepNew.view(-1, 1, 1, 1), xbc));
        });
        for (const i of active) nq[i] = (nq[i] as number) + 1;
        if (best.margin.le(0).all().item() !== 0) break;
      }
    }
    return { xBest: best.x, queriesPerPoint: nq, nonFinite, queries };
  });
}

const INDEX_COPY_ = op('index_copy_');

/** Linf start: vertical stripes x ± eps (one sign per example, channel and column). */
function linfInit(x: Tensor, eps: number): Tensor {
  return tidy(() => {
    const [B, C, , W] = x.shape as [number, number, number, number];
    return x.add(randomChoice([B, C, 1, W], x).mul(eps)).clamp(0, 1);
  });
}

/** Linf step: one s×s window (shared by the batch) set to x ± eps, one sign per channel. */
function linfProposal(s: SquareSettings): Proposal {
  return (xc, xbc, it) =>
    tidy(() => {
      const [, C, H, W] = xc.shape as [number, number, number, number];
      const side = squareSide('Linf', pSelection(it, s.pInit, s.nQueries, s.rescSchedule), C, H, W);
      const vh = randomInt(0, H - side);
      const vw = randomInt(0, W - side);
      const delta = zeros([C, H, W], xc.dtype, xc.device);
      window(delta, vh, vw, side).copy_(randomChoice([C, 1, 1], xc).mul(2 * s.eps));
      return Linf.project(xbc.add(delta), xc, s.eps);
    });
}

/** The s×s window at (vh, vw) of the last two dims, as a view (writes go through). */
function window(t: Tensor, vh: number, vw: number, s: number): Tensor {
  return t.narrow(-2, vh, s).narrow(-1, vw, s);
}

/**
 * L2 start: a grid of ⌊H/5⌋-sized tiles from offset (H − 5·⌊H/5⌋)//2, each
 * eta(s)·(±1 per example and channel), scaled to ‖δ‖₂ = eps.
 * NOTE: tiles past the border add nothing (fra31: empty slices; the draws still happen);
 * fra31 fails on tiles only partly inside (some H ≠ W), which we skip as well.
 */
function l2Init(x: Tensor, eps: number): Tensor {
  return tidy(() => {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    const s = Math.floor(H / 5);
    if (s < 1) throw new Error(`square: L2 needs images at least 5 pixels high (got H = ${H})`);
    const start = Math.floor((H - 5 * s) / 2);
    const delta = zerosLike(x);
    for (let i = 0, vh = start; i < Math.floor(H / s); i++, vh += s)
      for (let j = 0, vw = start; j < Math.floor(W / s); j++, vw += s) {
        const tile = randomEta(s, x)
          .view(1, 1, s, s)
          .mul(randomChoice([B, C, 1, 1], x));
        if (vh + s <= H && vw + s <= W) window(delta, vh, vw, s).add_(tile);
      }
    return x.add(L2.normalize(delta).mul(eps)).clamp(0, 1);
  });
}

/**
 * L2 step: windows W1, W2 (shared by the batch); W1 gets eta(s)·(±1) plus its
 * old content (normalised), rescaled per channel so that the mass removed from
 * W2 and the unused budget eps² − ‖δ‖² move into W1; W2 is zeroed; then ‖δ‖₂ = eps.
 */
function l2Proposal(s: SquareSettings): Proposal {
  return (xc, xbc, it) =>
    tidy(() => {
      const [n, C, H, W] = xc.shape as [number, number, number, number];
      const side = squareSide('L2', pSelection(it, s.pInit, s.nQueries, s.rescSchedule), C, H, W);
      const delta = xbc.sub(xc);
      const [vh, vw] = [randomInt(0, H - side), randomInt(0, W - side)];
      const w1 = window(delta, vh, vw, side);
      const normW1 = w1.square().sum([-2, -1], true).sqrt(); // [n, C, 1, 1]
      const [vh2, vw2] = [randomInt(0, H - side), randomInt(0, W - side)];
      const union = zerosLike(xc);
      window(union, vh, vw, side).fill_(1);
      window(union, vh2, vw2, side).fill_(1);
      const normImg = perImage(L2.norm(delta)); // [n, 1, 1, 1]
      const normWin = delta.mul(union).square().sum([-2, -1], true).sqrt(); // [n, C, 1, 1]

      // NOTE: contiguous as fra31's in-place product (a transposed eta would otherwise
      // give a strided result and a different float32 summation order below).
      let u = randomEta(side, xc)
        .view(1, 1, side, side)
        .mul(randomChoice([n, C, 1, 1], xc))
        .contiguous();
      u = u.add(w1.div(normW1.add(1e-12)));
      const budget = fullLike(normImg, s.eps).square().sub(normImg.square()).clamp(0, null).div(C).add(normWin.square()).sqrt();
      u = u.div(u.square().sum([-2, -1], true).sqrt().add(1e-12)).mul(budget);
      window(delta, vh2, vw2, side).zero_();
      window(delta, vh, vw, side).copy_(u);
      return xc.add(L2.normalize(delta).mul(s.eps)).clamp(0, 1);
    });
}

/** [n] -> [n, 1, 1, 1] */
function perImage(v: Tensor): Tensor {
  return v.view(-1, 1, 1, 1);
}

/** One restart of fra31 `perturb`: a single run, then a point is fooled if misclassified on re-evaluation. */
export function squarePass(model: Model, s: SquareSettings, x: Tensor, y: Tensor): PassResult {
  return tidy(() => {
    const r = squareSingleRun(model, x, y, s);
    const fooled = noGrad(() => model.forward(r.xBest).argmax(1).ne(y))
      .toArray()
      .map((v) => v !== 0);
    return { xAdv: r.xBest, fooled, nonFinite: r.nonFinite, queries: r.queries + 1 };
  });
}

/** Square Attack (untargeted, score-based). */
export class Square implements Attack {
  readonly name = 'square';
  readonly norm: Norm;
  readonly eps: number;
  readonly settings: SquareSettings;

  constructor(opts: SquareOptions) {
    this.settings = squareSettings(this.name, opts);
    this.norm = this.settings.norm;
    this.eps = this.settings.eps;
  }

  attack(model: Model, x: Tensor, y: Tensor): AttackResult {
    const s = this.settings;
    return runOnRobust(this.name, model, x, y, { passes: s.nRestarts, seed: s.seed }, (xs, ys) => squarePass(model, s, xs, ys));
  }
}

/** Square as AutoAttack runs it: 5000 queries, p_init 0.8, 1 restart, margin loss, no schedule rescaling. */
export function squareAA(norm: SquareNorm, eps: number, seed = 0): Square {
  return new Square({ norm, eps, seed, nQueries: 5000, pInit: 0.8, nRestarts: 1, loss: 'margin', rescSchedule: false });
}
