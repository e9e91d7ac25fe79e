// Box-constrained hyperplane projections used by FAB (fra31 `fab_projections.py`,
// attacks.md §5.3), vectorised over the batch.
//
// Each function takes points t: [B, D] in [0, 1], hyperplanes (w: [B, D], b: [B])
// and returns the displacement d: [B, D] of the minimum-‖d‖_p point t + d with
// ⟨w, t + d⟩ = b and t + d ∈ [0, 1]^D. When the hyperplane cannot be reached
// inside the box, d is the box corner that gets closest to it.
//
// The algorithms are fra31's, op for op (sort the breakpoints, bisect for the
// active piece in ceil(log2 D) steps, solve that linear piece exactly) so that
// float32 runs reproduce the reference's rounding. fra31 bisects only the rows
// that need it; here every row is bisected and the result selected with
// `where` (rows are independent, so the selected values are the same).
import { Tensor, arange, cat, full, tidy, zeros } from '../tensor/index.js';

/** A hyperplane projection: t [B, D], w [B, D], b [B] -> d [B, D]. */
export type Projection = (t: Tensor, w: Tensor, b: Tensor) => Tensor;

/** +1 where c >= 0, else -1 (fra31 `2 * (c >= 0) - 1`), in c's dtype. */
function signNonNeg(c: Tensor): Tensor {
  return c.ge(0).to(c.dtype).mul(2).sub(1);
}

/**
 * The hyperplane oriented so that ⟨w, t⟩ ≥ b, with c = ⟨w, t⟩ − b ≥ 0: the
 * decrease of ⟨w, ·⟩ the projection must achieve. w: [B, D], c: [B].
 */
function oriented(t: Tensor, w0: Tensor, b0: Tensor): { w: Tensor; c: Tensor } {
  const c0 = w0.mul(t).sum(1).sub(b0);
  const sign = signNonNeg(c0);
  return { w: w0.mul(sign.unsqueeze(1)), c: c0.mul(sign) };
}

/**
 * fra31's bisection over breakpoint indices 0..ub: keeps the largest index
 * `lb` at which `above(idx)` holds (idx: int64 [B, 1] -> bool [B]), assuming it
 * holds at 0; B = like.size(0). Returns lb as int64 [B, 1].
 */
function bisect(like: Tensor, ub0: number, nSteps: number, above: (idx: Tensor) => Tensor): Tensor {
  let lb = zeros([like.size(0)], 'float64', like.device);
  let ub = full([like.size(0)], ub0, 'float64', like.device);
  for (let i = 0; i < nSteps; i++) {
    const mid = lb.add(ub).div(2).floor();
    const c = above(mid.long().unsqueeze(1));
    lb = mid.where(c, lb);
    ub = ub.where(c, mid);
  }
  return lb.long().unsqueeze(1);
}

/** NOTE: fra31 uses ceil(log2 D) bisection steps (0 for D = 1). */
function bisectSteps(D: number): number {
  return Math.ceil(Math.log2(D));
}

/**
 * Linf: d_i(λ) = s_i·min(λ, r_i), s_i = −sign(w_i), r_i the room to the box
 * face in that direction; the smallest λ ≥ 0 reaching the hyperplane.
 * Coordinates with w_i = 0 are not moved.
 *
 *     projectionLinf([[.2, .5, .9, .1, .6]], [[1, -2, .5, 0, 3]], [1.3])
 *       -> [[-0.0230769, 0.0230769, -0.0230769, 0, -0.0230769]]
 */
export function projectionLinf(t: Tensor, w0: Tensor, b0: Tensor): Tensor {
  return tidy(() => {
    const D = t.size(1);
    const dt = t.dtype;
    // Orient the hyperplane so that ⟨w, t⟩ ≥ b: we must decrease ⟨w, ·⟩.
    const sign = signNonNeg(w0.mul(t).sum(1).sub(b0));
    const w = w0.mul(sign.unsqueeze(1));
    const b = b0.mul(sign);
    const nonzero = w.ne(0).to(dt);

    const a = w.lt(0).to(dt); // 1 where the move is towards 1, 0 towards 0
    const corner = a.sub(t).mul(nonzero); // [B, D] the full move to the box face
    const room = a.sub(t.mul(a.mul(2).sub(1))); // r_i = t_i or 1 − t_i
    const [, byRoom] = room.sort(1); // ascending room

    const need = b.sub(w.mul(t).sum(1)); // −c ≤ 0: the change of ⟨w, ·⟩ required
    const reach = w.mul(corner).sum(1); // [B] the largest decrease, as a negative change
    // Walking the coordinates by decreasing room: with the first j+1 still free at
    // λ (the others at their face) the change is sb[j] − s[j]·λ.
    const byRoomDesc = byRoom.flip([1]);
    const ws = w.gather(1, byRoomDesc);
    const s = ws.abs().cumsum(1); // [B, D]
    const sb = ws.neg().mul(corner.gather(1, byRoomDesc)).cumsum(1).add(reach.unsqueeze(1));

    // Unconstrained solution c/‖w‖₁ inside every room (no face reached).
    const minRoom = room.gather(1, byRoom.narrow(1, 0, 1)).squeeze(1);
    const atMinRoom = sb.select(1, D - 1).sub(s.select(1, D - 1).mul(minRoom));
    const free = need.sub(atMinRoom).gt(0);
    // Feasible, some faces active: bisect for the active piece.
    const boxed = need.sub(reach).gt(0).logicalAnd(free.logicalNot());
    const piece = bisect(t, D - 1, bisectSteps(D), (j) => {
      const coord = byRoom.gather(1, j.neg().add(D - 1));
      const change = sb
        .gather(1, j)
        .sub(s.gather(1, j).mul(room.gather(1, coord)))
        .squeeze(1);
      return need.sub(change).gt(0);
    });

    const lamFree = need
      .sub(sb.select(1, D - 1))
      .div(s.select(1, D - 1).neg())
      .clampMin_(0)
      .unsqueeze(1);
    const dFree = a.mul(2).sub(1).mul(lamFree);
    const lamBoxed = need.unsqueeze(1).sub(sb.gather(1, piece)).div(s.gather(1, piece).neg()).clampMin_(0);
    const dBoxed = lamBoxed
      .minimum(corner)
      .mul(a)
      .add(lamBoxed.neg().maximum(corner).mul(a.rsub(1)));

    const d = dFree.where(free.unsqueeze(1), dBoxed.where(boxed.unsqueeze(1), corner));
    return d.mul(nonzero);
  });
}

/**
 * L2: d_i(λ) = clip(−λ w_i, −t_i, 1 − t_i); the smallest λ ≥ 0 reaching the
 * hyperplane (unconstrained λ = c/‖w‖₂²). Coordinates with |w_i| < 1e-8 are not moved.
 *
 *     projectionL2([[.2, .5, .9, .1, .6]], [[1, -2, .5, 0, 3]], [1.3])
 *       -> [[-0.0105263, 0.0210526, -0.0052632, 0, -0.0315789]]
 */
export function projectionL2(t: Tensor, w0: Tensor, b0: Tensor): Tensor {
  return tidy(() => {
    const D = t.size(1);
    const dt = t.dtype;
    const { w, c } = oriented(t, w0, b0);
    // NOTE: fra31's thresholds: |w| < 1e-8 counts as zero; 1e12 stands for "never binds".
    const tiny = w.abs().lt(1e-8);
    const BIG = 1e12;

    // Breakpoints r_i: the λ at which coordinate i reaches its box face.
    let r = t.div(w).maximum(t.sub(1).div(w)).clamp(-BIG, BIG).maskedFill(tiny, BIG);
    r = r.neg().where(r.eq(-BIG), r);
    const [rsRaw, byR] = r.sort(1);
    const rs2Raw = rsRaw.narrow(1, 1, D - 1).pad([0, 1]);
    const rs = rsRaw.maskedFill(rsRaw.eq(BIG), 0);
    const rs2 = rs2Raw.maskedFill(rs2Raw.eq(BIG), 0);

    const w3s = w.square().gather(1, byR);
    const w5 = w3s.sum(1, true); // ‖w‖₂²
    const ws = w5.sub(w3s.cumsum(1)); // Σ w² of the coordinates still free after each breakpoint
    const corner = r.mul(w).neg().mul(tiny.logicalNot().to(dt));
    // s[j]: the change of ⟨w, ·⟩ at λ = the j-th breakpoint (s[0] at the smallest).
    const first = w5.neg().mul(rs.narrow(1, 0, 1));
    const s = cat([first, rs.sub(rs2).mul(ws).cumsum(1).add(first)], 1);

    const free = s.select(1, 0).add(c).lt(0); // unconstrained solution feasible
    const infeasible = corner.mul(w).sum(1).add(c).gt(0);
    const boxed = free.logicalOr(infeasible).logicalNot();
    const piece = bisect(t, D - 1, bisectSteps(D), (j) => s.gather(1, j).squeeze(1).add(c).gt(0));

    const dFree = c.div(w5.squeeze(1)).unsqueeze(1).neg().mul(w);
    const wsAt = ws.gather(1, piece);
    let alpha = s.gather(1, piece).add(c.unsqueeze(1)).div(wsAt).add(rs.gather(1, piece));
    alpha = alpha.maskedFill(wsAt.eq(0), 0);
    const bound = alpha.gt(r).to(dt);
    const dBoxed = corner.mul(bound).sub(alpha.mul(w).mul(bound.rsub(1)));

    const d = dFree.where(free.unsqueeze(1), dBoxed.where(boxed.unsqueeze(1), corner));
    return d.mul(tiny.logicalNot().to(dt));
  });
}

/**
 * L1: move the coordinates with the largest |w_i| to their box faces, one at a
 * time, until the hyperplane is reached (the last one only partly).
 * Coordinates with |w_i| < 1e-8 are not moved.
 */
export function projectionL1(t: Tensor, w0: Tensor, b0: Tensor): Tensor {
  return tidy(() => {
    const D = t.size(1);
    const dt = t.dtype;
    const { w, c } = oriented(t, w0, b0);

    const [, byR] = w.reciprocal().abs().clamp(null, 1e12).sort(1); // largest |w| first
    const [, rank] = byR.sort(1); // inverse permutation: rank of each coordinate
    const corner = t.neg().add(w.lt(0).to(dt)).mul(w.ne(0).to(dt));
    // Decrease of ⟨w, ·⟩ from moving each coordinate to its face (≤ 0), by rank.
    const ds = w
      .neg()
      .mul(t)
      .minimum(w.mul(t.rsub(1)))
      .gather(1, byR);
    const s = cat([c.unsqueeze(1), ds], 1).cumsum(1); // [B, D + 1] what is left after k moves
    const feasible = s.select(1, D).lt(0);
    // NOTE: fra31 bisects over 0..D (s has D + 1 entries); feasible rows stop below D,
    // the clamp only keeps the (discarded) infeasible rows' gathers in range.
    const k = bisect(t, D + 1, bisectSteps(D), (j) => s.gather(1, j).squeeze(1).gt(0)).clamp(null, D - 1);

    const last = byR.gather(1, k); // the coordinate moved partly
    const alpha = s.gather(1, k).neg().div(w.gather(1, last));
    const moved = arange(0, D, 1, 'int64', t.device).unsqueeze(0).lt(k).gather(1, rank).to(dt);
    const dPartial = corner.mul(moved).scatter(1, last, alpha);

    const d = dPartial.where(feasible.unsqueeze(1), corner);
    return d.mul(w.abs().gt(1e-8).to(dt));
  });
}
