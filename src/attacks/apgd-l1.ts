// APGD for the L1 threat model (Croce & Hein, "Mind the box: l1-APGD for sparse
// adversarial attacks on image classifiers", ICML 2021), as fra31
// `autopgd_base.py` with norm='L1' (attacks.md §4.7). Used by apgd.ts / apgd-t.ts
// when norm = 'L1'.
//
// Step: move η·sign(g) spread evenly over the top-`topk` fraction of |g|
// (topk starts at 0.2), then project onto the L1 ball ∩ box. η₀ = eps.
// Every k = max(int(0.04·N), 1) iterations: if the sparsity of x_best − x shrank
// by > 5 %, reset η = eps and restart from x_best, else η /= 1.5 (η ∈ [eps/10, eps]);
// topk = ‖x_best − x‖₀ / d / 1.5. No momentum.
// (useLargeReps, AutoAttack's L1 schedule, is `largeRepsRun` in apgd.ts.)
import { Tensor, tensor, tidy } from '../tensor/index.js';
import type { RuleFactory, SingleRunConfig, StepRule } from './apgd.js';
import { L1, perSample } from './norms.js';
import { keepRows } from './stop.js';

/** ‖v‖₀ per sample: [B, ...] -> JS numbers. */
function l0(v: Tensor): number[] {
  return tidy(() => v.ne(0).reshape(v.size(0), -1).sum(1).toArray());
}

/** The fra31 L1 rule (sparse sign step, adaptive sparsity and step size). */
export const sparseRule: RuleFactory = (x, x0, cfg, customInit) => {
  const B = x.size(0);
  const d = x.numel / B;
  const spOld = customInit ? l0(x0.sub(x)) : new Array<number>(B).fill(d);
  return sparse(x, cfg, {
    eta: new Array<number>(B).fill(cfg.eps),
    spOld,
    topk: customInit ? spOld.map((s) => s / d / 1.5) : new Array<number>(B).fill(0.2),
    counter: 0,
  });
};

/** The L1 rule's per-point step sizes and sparsity. */
interface SparseState {
  eta: number[];
  spOld: number[];
  topk: number[];
  counter: number;
}

function sparse(x: Tensor, cfg: SingleRunConfig, st: SparseState): StepRule {
  const B = x.size(0);
  const d = x.numel / Math.max(1, B);
  const eps = cfg.eps;
  const k = Math.max(Math.trunc(0.04 * cfg.nIter), 1);
  return {
    step: (s) =>
      tidy(() => {
        const flat = s.g.abs().reshape(B, -1);
        // threshold = the ⌊(1 − topk)·d⌋-th smallest |g| (clamped to a valid index)
        const at = st.topk.map((t) => Math.min(Math.max(Math.trunc((1 - t) * d), 0), d - 1));
        const thr = perSample(
          flat
            .sort(1)[0]
            .gather(1, tensor(at, [B, 1], 'int64', x.device))
            .view(-1),
          x,
        );
        const dir = s.g.mul(s.g.abs().ge(thr).to(x.dtype)).sign();
        const step = perSample(tensor(st.eta, [B], x.dtype, x.device), x);
        // NOTE: fra31 divides by ‖sign‖₁ + 1e-10 here (not 1e-12).
        const x1 = s.xAdv.add(step.mul(dir).div(perSample(L1.norm(dir).add(1e-10), x)));
        return L1.project(x1, x, eps);
      }),
    check(_i, s) {
      if (++st.counter < k) return null;
      st.counter = 0;
      const spCurr = l0(s.xBest.sub(x));
      const shrank = spCurr.map((sp, b) => sp / (st.spOld[b] as number) < 0.95);
      st.topk = spCurr.map((sp) => sp / d / 1.5);
      shrank.forEach((f, b) => (st.eta[b] = Math.min(Math.max(f ? eps : (st.eta[b] as number) / 1.5, eps / 10), eps)));
      st.spOld = spCurr;
      return shrank;
    },
    narrow: (keep, xk) =>
      sparse(xk, cfg, { ...st, eta: keepRows(st.eta, keep), spOld: keepRows(st.spOld, keep), topk: keepRows(st.topk, keep) }),
  };
}
