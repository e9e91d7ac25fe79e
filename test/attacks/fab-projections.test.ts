// FAB's box-constrained hyperplane projections (attacks.md §5.3): fra31 golden
// values, and an independent oracle that solves the spec's formulas for λ by
// bisection in plain JS (float64).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { manualSeed, rand, randn, tensor, tidy, type DType } from '../../src/tensor/index.js';
import { projectionL1, projectionL2, projectionLinf, type Projection } from '../../src/attacks/fab-projections.js';
import { checkTensor } from '../helpers.js';

interface GoldenCore {
  proj_inputs: { t: number[]; w: number[]; b: number[] };
  proj_linf: number[][];
  proj_l2: number[][];
}
const golden = (JSON.parse(readFileSync('/work/shared/spec/attacks_golden.json', 'utf8')) as { core: GoldenCore }).core;

// NOTE: the golden is float64 with 10 decimals (rounding 5e-11): 1e-9 in float64. In float32 the inputs
// (0.2, 0.9, ...) are already off by up to 3e-8 and the projection (a sort, cumulative sums over 5
// entries, one division) rounds a handful of times on outputs <= 1: 1e-6 is ~8 ulps of 1 (measured 2.4e-8).
for (const [dtype, tol] of [
  ['float64', 1e-9],
  ['float32', 1e-6],
] as [DType, number][])
  test(`proj_linf / proj_l2 match fra31 (${tol}, ${dtype}): small move, box-active, infeasible`, () =>
    tidy(() => {
      const { t, w, b } = golden.proj_inputs;
      const rows = b.length;
      const T = tensor(Array<number[]>(rows).fill(t).flat(), [rows, t.length], dtype);
      const Wt = tensor(Array<number[]>(rows).fill(w).flat(), [rows, w.length], dtype);
      const Bt = tensor(b, [rows], dtype);
      checkTensor(projectionLinf(T, Wt, Bt), golden.proj_linf.flat(), 'proj_linf', tol, 0);
      checkTensor(projectionL2(T, Wt, Bt), golden.proj_l2.flat(), 'proj_l2', tol, 0);
    }));

/** A problem row: point t in [0, 1]^D, hyperplane ⟨w, ·⟩ = b. */
interface Row {
  t: number[];
  w: number[];
  b: number;
}

/**
 * The spec's solution: orient so ⟨w, t⟩ − b = c ≥ 0, move coordinate i by
 * s_i·m_i(λ) (s_i = −sign w_i, m_i ≤ room r_i) with decrease G(λ) = Σ|w_i| m_i(λ) = c;
 * infeasible (G(∞) < c): the full corner move.
 */
function oracle(row: Row, move: (lam: number, absW: number, room: number) => number): number[] {
  const c0 = row.w.reduce((a, wi, i) => a + wi * (row.t[i] as number), 0) - row.b;
  const w = row.w.map((wi) => (c0 >= 0 ? wi : -wi));
  const c = Math.abs(c0);
  const room = w.map((wi, i) => (wi > 0 ? (row.t[i] as number) : 1 - (row.t[i] as number)));
  const G = (lam: number): number =>
    w.reduce((a, wi, i) => a + (wi === 0 ? 0 : Math.abs(wi) * move(lam, Math.abs(wi), room[i] as number)), 0);
  let [lo, hi] = [0, 1];
  while (G(hi) < c && hi < 1e12) hi *= 2;
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (G(mid) < c) lo = mid;
    else hi = mid;
  }
  return w.map((wi, i) => (wi === 0 ? 0 : -Math.sign(wi) * move(hi, Math.abs(wi), room[i] as number)));
}

const linfMove = (lam: number, _absW: number, room: number): number => Math.min(lam, room);
const l2Move = (lam: number, absW: number, room: number): number => Math.min(lam * absW, room);

/** L1: the coordinates with the largest |w_i| go to their faces first; the last one partly. */
function oracleL1(row: Row): number[] {
  const c0 = row.w.reduce((a, wi, i) => a + wi * (row.t[i] as number), 0) - row.b;
  const w = row.w.map((wi) => (c0 >= 0 ? wi : -wi));
  let left = Math.abs(c0);
  const d = w.map(() => 0);
  const order = w.map((_, i) => i).sort((i, j) => Math.abs(w[j] as number) - Math.abs(w[i] as number));
  for (const i of order) {
    const wi = w[i] as number;
    if (wi === 0) continue;
    const room = wi > 0 ? (row.t[i] as number) : 1 - (row.t[i] as number);
    const m = Math.min(room, left / Math.abs(wi));
    d[i] = -Math.sign(wi) * m;
    left -= Math.abs(wi) * m;
    if (left <= 0) break;
  }
  return d;
}

/** Random rows: some w_i = 0, and offsets from tiny (no face reached) to infeasible. */
function randomRows(n: number, D: number): Row[] {
  manualSeed(5);
  return tidy(() => {
    const t = rand([n, D], 'float64').toArray();
    const w = randn([n, D], 'float64').toArray();
    const off = randn([n], 'float64').toArray();
    return Array.from({ length: n }, (_, i) => {
      const ti = t.slice(i * D, (i + 1) * D);
      const wi = w.slice(i * D, (i + 1) * D).map((v, j) => (j === i % D ? 0 : v));
      const dot = wi.reduce((a, v, j) => a + v * (ti[j] as number), 0);
      return { t: ti, w: wi, b: dot + (off[i] as number) * (0.02 + (6 * i) / n) };
    });
  });
}

const CASES: [string, Projection, (r: Row) => number[]][] = [
  ['Linf', projectionLinf, (r) => oracle(r, linfMove)],
  ['L2', projectionL2, (r) => oracle(r, l2Move)],
  ['L1', projectionL1, oracleL1],
];

for (const [name, project, solve] of CASES)
  test(`${name} projection = the minimal-norm box-constrained solution (oracle, 1e-9)`, () =>
    tidy(() => {
      const D = 7;
      const rows = randomRows(300, D);
      const d = project(
        tensor(
          rows.flatMap((r) => r.t),
          [rows.length, D],
          'float64',
        ),
        tensor(
          rows.flatMap((r) => r.w),
          [rows.length, D],
          'float64',
        ),
        tensor(
          rows.map((r) => r.b),
          [rows.length],
          'float64',
        ),
      ).toArray();
      let feasible = 0;
      rows.forEach((r, i) => {
        const got = d.slice(i * D, (i + 1) * D);
        checkTensor(got, solve(r), `${name} row ${i}`, 1e-9, 0);
        got.forEach((v, j) => {
          const p = (r.t[j] as number) + v;
          assert.ok(p >= -1e-12 && p <= 1 + 1e-12, `row ${i}: t + d inside the box`);
          if (r.w[j] === 0) assert.ok(v === 0, `row ${i}: w_j = 0 is not moved`);
        });
        const gap = Math.abs(got.reduce((a, v, j) => a + (r.w[j] as number) * ((r.t[j] as number) + v), 0) - r.b);
        if (gap < 1e-9) feasible++;
      });
      // The rows cover both regimes: the hyperplane reached, and the infeasible corner.
      assert.ok(feasible > 30 && feasible < rows.length - 30, `feasible rows: ${feasible}`);
    }));
