// Shared machinery of every attack, written once (torchattacks `Attack` base,
// fra31 `perturb`): option checks, input checks, predictions, per-sample
// masks, and the robust-points driver that runs an attack's passes (restarts,
// target classes) only on points still classified correctly.
import { Tensor, manualSeed, noGrad, op, tensor, tidy, where } from '../tensor/index.js';
import type { StopReason } from './stop.js';
import type { AttackResult, Model, Norm } from './types.js';

/** Options every attack takes. */
export interface BaseOptions {
  /** Radius of the threat model (finite, > 0), in the chosen norm. */
  eps: number;
  /** Threat model (default 'Linf'). */
  norm?: Norm;
  /** Seed for libtorch's RNG, set once before the first pass (default 0). */
  seed?: number;
  /** Gradient samples averaged per step for stochastic models (default 1; see eot.ts). */
  eotIter?: number;
}

/** Throws unless eps is a finite number > 0. */
export function checkEps(attack: string, eps: number): void {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0)
    throw new Error(`${attack}: eps must be a finite number in (0, ∞) (got ${eps})`);
}

/** Throws unless v is an integer ≥ min. */
export function checkInt(attack: string, key: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new Error(`${attack}: ${key} must be an integer >= ${min} (got ${v})`);
}

/** Throws unless v is a finite number in (0, max]. */
export function checkPositive(attack: string, key: string, v: number, max = Infinity): void {
  if (!Number.isFinite(v) || v <= 0 || v > max)
    throw new Error(`${attack}: ${key} must be a finite number in (0, ${max}] (got ${v})`);
}

/** Throws unless x: [B, ...] is finite in [0, 1] and y: int64 [B]. */
export function checkInputs(attack: string, x: Tensor, y: Tensor): void {
  if (x.ndim < 2) throw new Error(`${attack}: x must be a batch [B, ...] (got shape [${x.shape.join(', ')}])`);
  if (y.dtype !== 'int64' || y.ndim !== 1 || y.size(0) !== x.size(0))
    throw new Error(`${attack}: y must be int64 [${x.size(0)}] (got ${y.dtype} [${y.shape.join(', ')}])`);
  const [finite, lo, hi] = tidy(() => [x.isfinite().all().item(), x.min().item(), x.max().item()]);
  if (finite !== 1 || lo < 0 || hi > 1) throw new Error(`${attack}: x must be finite and in [0, 1] (got min ${lo}, max ${hi})`);
}

/** Throws unless every label is in [0, K). */
export function checkLabels(attack: string, y: Tensor, K: number): void {
  const bad = y.toArray().find((v) => v < 0 || v >= K);
  if (bad !== undefined) throw new Error(`${attack}: labels must be in [0, ${K - 1}] (got ${bad})`);
}

const warned = new Set<string>();
/** A warning (fra31 `checks.py` style: never changes results), once per message. */
export function warn(msg: string): void {
  if (warned.has(msg)) return;
  warned.add(msg);
  process.emitWarning(msg, 'CarsoAttackWarning');
}

/** argmax_k f(x)_k as JS numbers (one forward pass, no graph). */
export function predict(model: Model, x: Tensor): number[] {
  return noGrad(() => tidy(() => model.forward(x).argmax(1).toArray()));
}

/** Per-sample boolean flags as a bool mask broadcastable against `like`: [B, 1, ..., 1]. */
export function mask(flags: readonly boolean[], like: Tensor): Tensor {
  return tensor(Uint8Array.from(flags, Number), [flags.length, ...Array<number>(like.ndim - 1).fill(1)], 'bool', like.device);
}

/** where(flags, a, b) per sample. */
export function pickRows(flags: readonly boolean[], a: Tensor, b: Tensor): Tensor {
  if (flags.every((f) => f)) return a;
  if (!flags.some((f) => f)) return b;
  return tidy(() => where(mask(flags, a), a, b));
}

/**
 * Frees the tensors held in `old` (an object of tensors) that `next` does not
 * hold: iteration state is replaced as a whole, and what carries over survives.
 */
export function release(old: Readonly<Record<string, Tensor>>, next: Readonly<Record<string, Tensor>>): void {
  const live = new Set(Object.values(next));
  for (const t of Object.values(old)) if (!live.has(t)) t.dispose();
}

/** What one pass of an attack on a sub-batch of still-robust points returns. */
export interface PassResult {
  /** [b, ...]: the adversarial candidate of each point (used only where fooled). */
  xAdv: Tensor;
  /** Per point: misclassified by the attack's own check. */
  fooled: boolean[];
  nonFinite: boolean[];
  /** Gradient attacks: the largest distance an iterate reached from its start, per point. */
  moved?: number[];
  /** Per point: the attack stopped early, its gradients all NaN/Inf (stop.ts). */
  stopped?: boolean[];
  queries: number;
}

/** One pass over the sub-batch (x, y) of still-robust points; `pass` counts from 0; K = number of classes. */
export type Pass = (x: Tensor, y: Tensor, pass: number, K: number) => PassResult;

export interface DriverOptions {
  /** How many times `run` is called at most (restarts × target classes). */
  passes: number;
  /** Seed set once (manualSeed) after the clean pass, before the first run. */
  seed: number;
  /** Smallest number of classes the attack's loss works with (DLR 3, targeted DLR 4; default 2). */
  minClasses?: number;
}

/**
 * The fra31 `perturb` skeleton shared by all attacks: clean predictions, then
 * `manualSeed(seed)` once, then `passes` runs of `run`, each on the points no
 * earlier pass has fooled (already-misclassified points are never attacked and
 * come back unchanged; unfooled points come back as the clean x); the first
 * successful perturbation is kept. Ends with one forward pass on xAdv that
 * decides `success` (re-evaluated, not trusted from inside the attack).
 */
export function runOnRobust(attack: string, model: Model, x: Tensor, y: Tensor, opts: DriverOptions, run: Pass): AttackResult {
  checkInputs(attack, x, y);
  const labels = y.toArray();
  const clean = noGrad(() =>
    tidy(() => {
      const z = model.forward(x);
      return { pred: z.argmax(1).toArray(), K: z.size(1) };
    }),
  );
  checkLabels(attack, y, clean.K);
  const minK = opts.minClasses ?? 2;
  if (clean.K < minK) throw new Error(`${attack}: needs a model with at least ${minK} classes (got K = ${clean.K})`);
  const robust = clean.pred.map((p, i) => p === labels[i]);
  const nanGrad = new Array<boolean>(labels.length).fill(false);
  const moved = new Array<number | null>(labels.length).fill(null);
  const stopped = new Array<StopReason | null>(labels.length).fill(null);
  let queries = 2; // the clean pass above and the final check below
  const xAdv = tidy(() => {
    let adv = x.detach().clone();
    manualSeed(opts.seed);
    for (let p = 0; p < opts.passes; p++) {
      const idx = robust.flatMap((r, i) => (r ? [i] : []));
      if (idx.length === 0) break;
      adv = tidy(() => {
        const res = run(x.index(ids(idx, x)), y.index(ids(idx, x)), p, clean.K);
        queries += res.queries;
        const dst: number[] = [];
        const src: number[] = [];
        idx.forEach((i, j) => {
          nanGrad[i] = (nanGrad[i] ?? false) || (res.nonFinite[j] ?? false);
          const m = res.moved?.[j];
          if (m !== undefined) moved[i] = Math.max(moved[i] ?? 0, m);
          if (res.stopped?.[j] === true) stopped[i] = 'non-finite-gradients';
          if (res.fooled[j] !== true) return;
          robust[i] = false;
          dst.push(i);
          src.push(j);
        });
        return dst.length === 0 ? adv : INDEX_COPY.t(adv, 0, ids(dst, x), res.xAdv.index(ids(src, x)));
      });
    }
    return adv;
  });
  const pred = predict(model, xAdv);
  return { xAdv, success: pred.map((p, i) => p !== labels[i]), nanGrad, moved, stopped, queries };
}

const INDEX_COPY = op('index_copy');

/** JS indices as an int64 tensor on x's device. */
export function ids(idx: readonly number[], like: Tensor): Tensor {
  return tensor(idx, [idx.length], 'int64', like.device);
}
