// Sanity checks around an AutoAttack run, after fra31 auto-attack `checks.py`
// (attacks.md §7.5). Each is a small function that returns its warning (or
// null) and never changes a result; the runner (autoattack.ts) prints what
// fires and collects it into the result JSON. Messages name the remedy, as
// fra31's `flags_doc.md` does.
//
// Plus one check that does change results: `checkAdversarial`, the re-check of
// the adversarial examples against the threat model (box, eps-ball, finite)
// before any of them is counted as a break.
// Not ported: fra31 `check_dynamic` (it traces Python calls named grad/backward
// during a forward pass; a carso Model offers no such hook).
import { dlrLoss, ceLoss } from '../attacks/losses.js';
import { lossAndGrad } from '../attacks/eot.js';
import { normOf } from '../attacks/norms.js';
import type { Model, Norm } from '../attacks/types.js';
import { Tensor, noGrad, tidy } from '../tensor/index.js';

/** A check that fired: which one, and what to do about it. */
export interface CheckWarning {
  check:
    | 'randomized'
    | 'range-output'
    | 'zero-gradients'
    | 'n-classes'
    | 'square-sr'
    | 'threat-model'
    | 'nan-gradients'
    | 'not-ported';
  message: string;
}

/**
 * fra31 `check_randomized`: n forward passes on x: [B, ...]; fires when the
 * number of correct predictions differs between any pass and the last, or when
 * two passes' logits, each scaled to unit L2 norm per example, differ by more
 * than `alpha` in L2 for some example. AutoAttack skips it for version 'rand'.
 */
export function checkRandomized(model: Model, x: Tensor, y: Tensor, n = 5, alpha = 1e-4): CheckWarning | null {
  const labels = y.toArray();
  const passes = noGrad(() =>
    tidy(() =>
      Array.from({ length: n }, () => {
        const z = model.forward(x);
        const correct = z
          .argmax(1)
          .toArray()
          .filter((p, i) => p === labels[i]).length;
        // NOTE: fra31 z / (‖z‖₂ + 1e-10) per example.
        const unit = z.div(z.normL2().view(-1, 1).add(1e-10));
        return { correct, unit };
      }),
    ),
  );
  const last = passes[n - 1]!.correct;
  let maxDiff = 0;
  for (let a = 0; a < n - 1; a++)
    for (let b = a + 1; b < n; b++)
      maxDiff = Math.max(
        maxDiff,
        tidy(() => passes[a]!.unit.sub(passes[b]!.unit).normL2().max().item()),
      );
  passes.forEach((p) => p.unit.dispose());
  if (!passes.some((p) => p.correct !== last) && !(maxDiff > alpha)) return null;
  return {
    check: 'randomized',
    message:
      `the model's output changes between calls on the same input (max difference of normalised logits ${maxDiff.toExponential(2)}): ` +
      `it seems to be a randomised defence; use version 'rand' (APGD with EOT over 20 samples)`,
  };
}

/**
 * fra31 `check_range_output`: fires when the outputs on x look like
 * probabilities (max < 1 + alpha, min > −alpha, every row sums to 1 within
 * alpha), i.e. softmax was applied: the attacks' losses expect logits.
 * Returns the number of classes K too (AutoAttack reads it from here).
 */
export function checkRangeOutput(model: Model, x: Tensor, alpha = 1e-5): { K: number; warning: CheckWarning | null } {
  const r = noGrad(() =>
    tidy(() => {
      const z = model.forward(x);
      const rowsSumToOne = z.sum(1).sub(1).abs().lt(alpha).all().item() === 1;
      return { K: z.size(1), fires: z.max().item() < 1 + alpha && z.min().item() > -alpha && rowsSumToOne };
    }),
  );
  const warning: CheckWarning | null = r.fires
    ? {
        check: 'range-output',
        message: 'the model outputs look like a probability distribution (softmax applied?): the attacks need the logits',
      }
    : null;
  return { K: r.K, warning };
}

/**
 * fra31 `check_zero_gradients`: fires when some example's input gradient g:
 * [B, ...] is exactly zero (Σ|g| = 0): gradient masking (quantisation,
 * non-differentiable pre-processing, saturated outputs) makes gradient attacks
 * unreliable; use BPDA or rely on Square. `nonFinite[b]`: the example's raw
 * gradient held a NaN/Inf (carso's gradients have those entries zeroed): NOTE:
 * not counted as zero, as in fra31, where Σ|g| is NaN there and NaN == 0 is false
 * (NaN gradients are reported by the cascade's own NaN count instead).
 */
export function checkZeroGradients(g: Tensor, nonFinite: readonly boolean[] = []): CheckWarning | null {
  const zero = tidy(() => g.abs().reshape(g.size(0), -1).sum(1).eq(0).toArray());
  const n = zero.filter((z, b) => z !== 0 && nonFinite[b] !== true).length;
  if (n === 0) return null;
  return {
    check: 'zero-gradients',
    message: `${n} of ${g.size(0)} points have an all-zero input gradient: gradient-based attacks are unreliable there (use BPDA, or trust Square)`,
  };
}

/**
 * The input gradient the DLR attacks start from (fra31 checks it inside APGD
 * with the DLR losses; CE when K < 3, where DLR is undefined), at x: [B, ...]
 * (pass clean-correct points: DLR is constant where y is the 3rd class), and
 * which examples' gradients were NaN/Inf (for checkZeroGradients).
 * APGD still runs the check at its own start points; this makes it visible in
 * the result whatever attacks run.
 */
export function startGradient(model: Model, x: Tensor, y: Tensor, K: number): { grad: Tensor; nonFinite: boolean[] } {
  const r = lossAndGrad(model, x, y, K >= 3 ? dlrLoss : ceLoss, 1);
  r.loss.dispose();
  r.logits.dispose();
  return { grad: r.grad, nonFinite: r.nonFinite };
}

/**
 * fra31 `check_n_classes`: fires when the attacks need more classes than the
 * model has: DLR needs K ≥ 3, targeted DLR K ≥ 4, and APGD-T / FAB-T with n
 * target classes need K ≥ n + 1 (fra31 only warns; carso's attacks then use
 * the K − 1 targets there are).
 */
export function checkNClasses(
  K: number,
  attacks: readonly string[],
  apgdTargets: number,
  fabTargets: number,
): CheckWarning | null {
  const msgs: string[] = [];
  if (attacks.includes('apgd-dlr') || attacks.includes('apgd-t')) {
    if (K <= 2) msgs.push(`with only ${K} classes the DLR loss is impossible`);
    else if (K === 3) msgs.push(`with only ${K} classes the targeted DLR loss is impossible`);
    else if (attacks.includes('apgd-t') && apgdTargets + 1 > K)
      msgs.push(`APGD-T uses more target classes (${apgdTargets}) than possible (${K - 1})`);
  }
  if (attacks.includes('fab-t') && fabTargets + 1 > K)
    msgs.push(`FAB-T uses more target classes (${fabTargets}) than possible (${K - 1})`);
  return msgs.length === 0 ? null : { check: 'n-classes', message: msgs.join('; ') };
}

/**
 * fra31 `check_square_sr`: with Square and at least one other entry besides
 * it, fires when Square (black-box) lowered the robust accuracy below the best
 * of the others (clean included) by more than alpha: the white-box attacks
 * were likely fooled by gradient obfuscation.
 */
export function checkSquareSr(acc: Readonly<Record<string, number>>, alpha = 0.002): CheckWarning | null {
  const square = acc['square'];
  const entries = Object.entries(acc);
  if (square === undefined || entries.length <= 2) return null;
  const others = Math.min(...entries.filter(([k]) => k !== 'square').map(([, v]) => v));
  if (!(square < others - alpha)) return null;
  return {
    check: 'square-sr',
    message:
      `Square lowered the robust accuracy by ${(100 * (others - square)).toFixed(2)} points after the gradient attacks: ` +
      'the evaluation may be unreliable (gradient obfuscation?); run Square with more queries and restarts, or an adaptive attack',
  };
}

/** Per point: does xAdv satisfy the threat model, and how far is it from x. */
export interface AdversarialCheck {
  ok: boolean[];
  /** ‖xAdv − x‖_p per point, computed in float64 (NaN where non-finite). */
  distance: number[];
  /** The slack allowed beyond eps. */
  tolerance: number;
}

/**
 * The threat-model re-check of adversarial examples xAdv: [B, ...] against
 * their clean x: finite, inside the [0, 1] box, and ‖xAdv − x‖_p ≤ eps + tol.
 * NOTE: fra31 only logs the max perturbation, NaN count and range at the end;
 * we enforce them. tol = 1e-5·eps + u·d^(1/p), u one ulp at 1.0 in x's dtype
 * (2⁻²³ for float32) and d the pixels per example: it absorbs the rounding of
 * x ± eps and of the L2/L1 rescaling in float32, nothing more.
 */
export function checkAdversarial(x: Tensor, xAdv: Tensor, norm: Norm, eps: number): AdversarialCheck {
  const d = x.numel / Math.max(1, x.size(0));
  const ulp = x.dtype === 'float64' ? 2 ** -52 : 2 ** -23;
  const tolerance = 1e-5 * eps + ulp * (norm === 'Linf' ? 1 : norm === 'L2' ? Math.sqrt(d) : d);
  const r = tidy(() => {
    const a = xAdv.to('float64').reshape(xAdv.size(0), -1);
    const finite = a.isfinite().logicalNot().sum(1).eq(0);
    const inBox = a.lt(0).logicalOr(a.gt(1)).sum(1).eq(0);
    const dist = normOf(norm).norm(a.sub(x.to('float64').reshape(x.size(0), -1)));
    const ok = finite.logicalAnd(inBox).logicalAnd(dist.le(eps + tolerance));
    return { ok: ok.toArray().map((v) => v !== 0), distance: dist.toArray() };
  });
  return { ...r, tolerance };
}
