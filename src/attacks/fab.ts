// FAB — Fast Adaptive Boundary attack (Croce & Hein, "Minimally distorted
// adversarial examples with a fast adaptive boundary attack", ICML 2020), as
// fra31 auto-attack `fab_base.py` / `fab_pt.py` (attacks.md §5). Norms: Linf, L2, L1.
//
// Options (defaults = fra31 class defaults):
//   eps (required: success threshold ‖δ‖_p ≤ eps and random-start radius eps/2),
//   norm 'Linf', nIter 100, alphaMax 0.1, eta 1.05 (overshoot), beta 0.9 (backward step),
//   nRestarts 1 (restarts r > 0 start at a random point), targeted false,
//   nTargetClasses 9 (FAB-T: targets = the 2nd … (n+1)-th largest clean logit), seed 0.
// AutoAttack runs FAB-T with nRestarts 1 and nTargetClasses 9: `fabT(norm, eps)`.
//
// Each iteration linearises the decision boundary at x₁ (targeted: one
// hyperplane z_t − z_y = 0; untargeted: the closest of the K − 1 hyperplanes,
// a full Jacobian), projects both x₁ and the clean x onto it inside the box,
// and moves to a mix of the two overshot projections; when x₁ is misclassified
// it is kept if closest so far and pulled back towards x by beta.
// NOTE: fra31 runs no EOT in FAB; a stochastic model is linearised once per step.
import { Tensor, cat, enableGrad, full, grad, noGrad, op, rand, randn, stack, tidy, zerosLike } from '../tensor/index.js';
import { checkEps, checkInt, checkPositive, ids, runOnRobust, warn, type BaseOptions, type PassResult } from './common.js';
import { projectionL1, projectionL2, projectionLinf, type Projection } from './fab-projections.js';
import { pick } from './losses.js';
import { normOf, perSample } from './norms.js';
import type { Attack, AttackResult, Model, Norm } from './types.js';

export interface FabOptions extends BaseOptions {
  nIter?: number;
  alphaMax?: number;
  eta?: number;
  beta?: number;
  nRestarts?: number;
  targeted?: boolean;
  nTargetClasses?: number;
}

/** Resolved FAB settings. */
export interface FabSettings {
  norm: Norm;
  eps: number;
  nIter: number;
  alphaMax: number;
  eta: number;
  beta: number;
  nRestarts: number;
  targeted: boolean;
  nTargetClasses: number;
  seed: number;
}

/** Checks and fills in FAB options. */
export function fabSettings(name: string, o: FabOptions): FabSettings {
  checkEps(name, o.eps);
  const s: FabSettings = {
    norm: o.norm ?? 'Linf',
    eps: o.eps,
    nIter: o.nIter ?? 100,
    alphaMax: o.alphaMax ?? 0.1,
    eta: o.eta ?? 1.05,
    beta: o.beta ?? 0.9,
    nRestarts: o.nRestarts ?? 1,
    targeted: o.targeted ?? false,
    nTargetClasses: o.nTargetClasses ?? 9,
    seed: o.seed ?? 0,
  };
  checkInt(name, 'nIter', s.nIter, 1);
  checkInt(name, 'nRestarts', s.nRestarts, 1);
  checkInt(name, 'nTargetClasses', s.nTargetClasses, 1);
  checkInt(name, 'seed', s.seed, 0);
  checkPositive(name, 'alphaMax', s.alphaMax, 1);
  checkPositive(name, 'eta', s.eta);
  checkPositive(name, 'beta', s.beta, 1);
  if ((o.eotIter ?? 1) !== 1) throw new Error(`${name}: FAB has no EOT (eotIter must be 1, got ${o.eotIter})`);
  return s;
}

const PROJECTIONS: Readonly<Record<Norm, Projection>> = { Linf: projectionLinf, L2: projectionL2, L1: projectionL1 };

/** Per (example, hyperplane) dual norm of the normals dg: [B, n, D] -> [B, n] (Linf ↔ ‖·‖₁, L2 ↔ ‖·‖₂, L1 ↔ ‖·‖∞). */
function dualNorm(norm: Norm, dg: Tensor): Tensor {
  if (norm === 'Linf') return dg.abs().sum(2);
  if (norm === 'L2') return dg.square().sum(2).sqrt();
  return dg.abs().amax([2]);
}

/** Linearised boundaries at x: df [B, n] (logit differences), dg [B, n, D] (their gradients). */
interface Linearisation {
  df: Tensor;
  dg: Tensor;
}

/** Targeted: the single hyperplane z_t − z_y = 0 (one backward pass, fra31 `..._targeted`). */
function targetedPlane(model: Model, x: Tensor, y: Tensor, target: Tensor): Linearisation {
  return enableGrad(() => {
    const xr = x.detach().requiresGrad_();
    const z = model.forward(xr);
    const diff = pick(z, y).sub(pick(z, target)).neg(); // [B]
    const [g] = grad(diff.sum(), [xr], { allowUnused: true });
    return { df: diff.detach().unsqueeze(1), dg: (g ?? zerosLike(x)).reshape(x.size(0), 1, -1) };
  });
}

/** Untargeted: z_k − z_y for every class k (K backward passes; df_y = 1e10 takes y out of the race). */
function allPlanes(model: Model, x: Tensor, y: Tensor): Linearisation {
  return enableGrad(() => {
    const xr = x.detach().requiresGrad_();
    const z = model.forward(xr);
    const K = z.size(1);
    const rows: Tensor[] = [];
    for (let k = 0; k < K; k++) {
      const seed = full([x.size(0)], k, 'int64', x.device)
        .oneHot(K)
        .to(z.dtype);
      const [g] = grad(z, [xr], { gradOutputs: [seed], retainGraph: k < K - 1, allowUnused: true });
      rows.push((g ?? zerosLike(x)).reshape(x.size(0), -1));
    }
    const J = stack(rows, 1); // [B, K, D]
    const zd = z.detach();
    const yIdx = y.view(-1, 1);
    const df = zd.sub(zd.gather(1, yIdx)).scatter(1, yIdx, full([x.size(0), 1], 1e10, zd.dtype, x.device));
    const Jy = J.gather(1, yIdx.view(-1, 1, 1).expand(x.size(0), 1, J.size(2)));
    return { df, dg: J.sub(Jy) };
  });
}

/** The closest linearised boundary as a hyperplane ⟨w, ·⟩ = b: w = ∇(z_k − z_y) [n, D], b = ⟨w, x₁⟩ − (z_k − z_y) [n]. */
function closestPlane(norm: Norm, lin: Linearisation, x1: Tensor): { w: Tensor; b: Tensor } {
  const n = x1.size(0);
  const k = lin.df.abs().div(dualNorm(norm, lin.dg).add(1e-12)).minWithIndices(1)[1].view(-1, 1);
  const w = lin.dg.gather(1, k.view(-1, 1, 1).expand(n, 1, lin.dg.size(2))).squeeze(1);
  const b = w.mul(x1.reshape(n, -1)).sum(1).sub(lin.df.gather(1, k).squeeze(1));
  return { w, b };
}

/**
 * fra31's step: project x₁ and the clean point x onto the same hyperplane ∩ box
 * (d1, d2), overshoot both by eta and mix them, x₁ ← (1 − α)(x₁ + η·d1) + α(x + η·d2)
 * with α = ‖d1‖/(‖d1‖ + ‖d2‖) capped at alphaMax, clipped to [0, 1].
 */
function fabMove(s: FabSettings, plane: { w: Tensor; b: Tensor }, x1: Tensor, x: Tensor): Tensor {
  const n = x1.size(0);
  const { w, b } = plane;
  const d3 = PROJECTIONS[s.norm](cat([x1.reshape(n, -1), x.reshape(n, -1)]), cat([w, w]), cat([b, b])); // [2n, D]
  const d1 = d3.narrow(0, 0, n).view(...x1.shape);
  const d2 = d3.narrow(0, n, n).view(...x1.shape);
  const a0 = normOf(s.norm).norm(d3).clamp(1e-8, null); // [2n]
  const a1 = perSample(a0.narrow(0, 0, n), x1);
  const a2 = perSample(a0.narrow(0, n, n), x1);
  const alpha = a1.div(a1.add(a2)).clamp(0, s.alphaMax);
  return x1
    .add(d1.mul(s.eta))
    .mul(alpha.rsub(1))
    .add(x.add(d2.mul(s.eta)).mul(alpha))
    .clamp(0, 1);
}

/** Per example: a NaN/Inf in the linearisation. */
function nonFiniteRows(l: Linearisation): boolean[] {
  return tidy(() => {
    const bad = (t: Tensor): Tensor => t.isfinite().logicalNot().reshape(t.size(0), -1).sum(1).gt(0);
    return bad(l.df)
      .logicalOr(bad(l.dg))
      .toArray()
      .map((v) => v !== 0);
  });
}

/**
 * fra31 random start: x + (eps/2)·t/‖t‖_p, clipped to [0, 1]; t ~ U(−1, 1) for Linf,
 * N(0, I) otherwise. NOTE: fra31 computes min(best, eps) with best still 1e10, so the
 * radius is eps/2; the draw is float32 on the CPU generator, as fra31's `torch.rand(...).to(device)`.
 */
function fabRandomStart(x: Tensor, s: FabSettings): Tensor {
  return tidy(() => {
    const shape = x.shape;
    const t = (s.norm === 'Linf' ? rand(shape).mul(2).sub(1) : randn(shape)).to(x.dtype).toDevice(x.device);
    const r = perSample(full([x.size(0)], s.eps, x.dtype, x.device), x);
    const n = perSample(normOf(s.norm).norm(t), x);
    return x.add(r.mul(t).div(n).mul(0.5)).clamp(0, 1);
  });
}

/** What a single FAB run returns (tensors owned by the caller). */
export interface FabRunResult {
  /** [B, ...]: the closest misclassified point found, or the clean x. */
  xAdv: Tensor;
  /** Per point: distance ‖xAdv − x‖_p of the point found (Infinity when none). */
  dist: number[];
  nonFinite: boolean[];
  queries: number;
}

/** Which single run: random start or not; targeted runs aim at the `targetClass`-th largest clean logit (≥ 2). */
export interface FabRun {
  randomStart: boolean;
  targetClass?: number;
}

interface IterState {
  x1: Tensor;
  adv: Tensor;
  best: Tensor;
}

/**
 * One FAB run (fra31 `attack_single_run`) on x: [B, ...] in [0, 1], y: int64 [B].
 * Points misclassified at x are returned unchanged. Deterministic unless randomStart.
 *
 *     fabSingleRun(model, x, y, fabSettings('fab-t', { eps: 1, nIter: 10, targeted: true }), { randomStart: false, targetClass: 2 })
 */
export function fabSingleRun(model: Model, x: Tensor, y: Tensor, s: FabSettings, run: FabRun): FabRunResult {
  const B = x.size(0);
  const nonFinite = new Array<boolean>(B).fill(false);
  const dist = new Array<number>(B).fill(Infinity);
  let queries = 0;
  const forward = (v: Tensor): Tensor => {
    queries++;
    return noGrad(() => model.forward(v));
  };
  const norm = normOf(s.norm);
  const xAdv = tidy(() => {
    const z0 = forward(x);
    const idx = z0
      .argmax(1)
      .eq(y)
      .toArray()
      .flatMap((ok, i) => (ok !== 0 ? [i] : []));
    if (idx.length === 0) return x.detach().clone();
    const sel = ids(idx, x);
    const xs = x.index(sel).detach();
    const ys = y.index(sel);
    // NOTE: fra31 picks the target on the clean logits (sort ascending, index −targetClass).
    const target =
      run.targetClass === undefined
        ? null
        : z0
            .sort(1)[1]
            .select(1, z0.size(1) - run.targetClass)
            .index(sel);
    const n = idx.length;
    let st: IterState = {
      x1: run.randomStart ? fabRandomStart(xs, s) : xs.clone(),
      adv: xs.clone(),
      best: full([n], 1e10, x.dtype, x.device),
    };
    for (let it = 0; it < s.nIter; it++) {
      const prev = st;
      st = tidy((): IterState => {
        const { x1 } = prev;
        const lin = target === null ? allPlanes(model, x1, ys) : targetedPlane(model, x1, ys, target);
        queries++;
        nonFiniteRows(lin).forEach((bad, j) => bad && (nonFinite[idx[j] as number] = true));
        const xNew = fabMove(s, closestPlane(s.norm, lin, x1), x1, xs);
        // Misclassified: keep if closest so far, then step back towards x.
        const isAdv = perSample(forward(xNew).argmax(1).ne(ys), xNew);
        const t = norm.distance(xNew, xs);
        const improved = t.lt(prev.best).logicalAnd(isAdv.view(-1));
        return {
          adv: xNew.where(perSample(improved, xNew), prev.adv),
          best: t.where(improved, prev.best),
          x1: xs.add(xNew.sub(xs).mul(s.beta)).where(isAdv, xNew),
        };
      });
      release(prev, st);
    }
    const found = st.best.lt(1e10);
    st.best.toArray().forEach((d, j) => d < 1e10 && (dist[idx[j] as number] = d));
    const advRows = st.adv.where(perSample(found, st.adv), xs);
    return INDEX_COPY.t(x.detach(), 0, sel, advRows);
  });
  return { xAdv, dist, nonFinite, queries };
}

const INDEX_COPY = op('index_copy');

/** Frees the tensors of `old` that `next` no longer holds. */
function release(old: IterState, next: IterState): void {
  const live = new Set(Object.values(next));
  for (const t of Object.values(old)) if (!live.has(t)) t.dispose();
}

/**
 * One restart / target-class pass of fra31 `perturb`: a single run, then a point
 * counts as fooled only if misclassified on re-evaluation AND ‖δ‖_p ≤ eps.
 */
export function fabPass(model: Model, s: FabSettings, x: Tensor, y: Tensor, run: FabRun): PassResult {
  return tidy(() => {
    const r = fabSingleRun(model, x, y, s, run);
    const wrong = noGrad(() => model.forward(r.xAdv).argmax(1).ne(y));
    const inBall = normOf(s.norm).distance(r.xAdv, x).le(s.eps);
    const fooled = wrong
      .logicalAnd(inBall)
      .toArray()
      .map((v) => v !== 0);
    return { xAdv: r.xAdv, fooled, nonFinite: r.nonFinite, queries: r.queries + 1 };
  });
}

/** FAB (untargeted) and FAB-T (targeted). */
export class FAB implements Attack {
  readonly name: string;
  readonly norm: Norm;
  readonly eps: number;
  readonly settings: FabSettings;

  constructor(opts: FabOptions) {
    this.name = opts.targeted === true ? 'fab-t' : 'fab';
    this.settings = fabSettings(this.name, opts);
    this.norm = this.settings.norm;
    this.eps = this.settings.eps;
  }

  attack(model: Model, x: Tensor, y: Tensor): AttackResult {
    const s = this.settings;
    const targets = s.targeted ? s.nTargetClasses : 1;
    const opts = { passes: targets * s.nRestarts, seed: s.seed };
    return runOnRobust(this.name, model, x, y, opts, (xs, ys, p, K) => {
      const restart = p % s.nRestarts;
      const targetClass = s.targeted ? 2 + Math.floor(p / s.nRestarts) : undefined;
      if (targetClass !== undefined && targetClass > K) {
        // NOTE: fra31 only warns (check_n_classes) and then fails indexing; we skip the missing targets.
        warn(
          `${this.name}: nTargetClasses ${s.nTargetClasses} needs K >= ${s.nTargetClasses + 1} classes (got ${K}); extra targets skipped`,
        );
        return { xAdv: xs, fooled: new Array<boolean>(xs.size(0)).fill(false), nonFinite: [], queries: 0 };
      }
      return fabPass(model, s, xs, ys, { randomStart: restart > 0, targetClass });
    });
  }
}

/** FAB-T as AutoAttack 'standard' runs it: 100 iterations, 9 target classes × 1 restart. */
export function fabT(norm: Norm, eps: number, seed = 0): FAB {
  return new FAB({ norm, eps, seed, targeted: true, nRestarts: 1, nTargetClasses: 9, nIter: 100 });
}
