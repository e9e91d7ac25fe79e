// Early stop for points whose gradients are all NaN/Inf (issue 13). A model whose
// output saturates to +-inf (CARSO with the reference float32 aggregation) gives
// NaN losses and gradients there; fra31's APGD then steps by sign(NaN) = 0 and
// never leaves its start point, so attacking such a point further only spends
// forward passes. A gradient attack (APGD, PGD) keeps the points it still attacks
// as the rows of its tensors: `ActiveRows` maps those rows back to the batch and
// keeps what finished points leave behind; `NonFiniteStop` decides who stops.
//
// The rule: a point stops once its first `limit` gradient evaluations (the start
// point's, then one per step) each had a NaN/Inf in EVERY EOT sample. One finite
// sample from the start on, and the point is attacked to the end. A stopped point
// keeps its state as it stood (never misclassified: robust, as fra31 reports it).
import { Tensor, op } from '../tensor/index.js';
import { ids } from './common.js';

const INDEX_COPY = op('index_copy');

/** Why an attack stopped attacking a point before its budget was spent. */
export const STOP_REASONS = ['non-finite-gradients'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

/** The entries of a per-row array at the rows kept (a step rule's state when its batch narrows). */
export const keepRows = <T>(a: readonly T[], keep: readonly boolean[]): T[] => a.filter((_, b) => keep[b] === true);

/** Per point of a batch: the run of all-non-finite gradient evaluations from the start. */
export class NonFiniteStop {
  private readonly streak: number[];

  /** limit: evaluations (0: never stop). */
  constructor(
    private readonly limit: number,
    n: number,
  ) {
    if (!Number.isInteger(limit) || limit < 0) throw new Error(`stopNonFinite must be an integer >= 0 (got ${limit})`);
    this.streak = new Array<number>(n).fill(0);
  }

  /**
   * After one evaluation of the active rows (rows[j] = the point of row j; allNonFinite[j]: every
   * EOT sample of row j was NaN/Inf): per row, whether to keep attacking it; null when none stops.
   */
  update(rows: readonly number[], allNonFinite: readonly boolean[]): boolean[] | null {
    if (this.limit === 0) return null;
    let any = false;
    const keep = rows.map((q, j) => {
      const s = this.streak[q] as number;
      // NOTE: -1 = a finite evaluation was seen: only a run from the start counts
      const next = s >= 0 && allNonFinite[j] === true ? s + 1 : -1;
      this.streak[q] = next;
      const stop = next >= this.limit;
      any ||= stop;
      return !stop;
    });
    return any ? keep : null;
  }
}

/** The rows an attack run still works on, and the tensors of the points it finished with. */
export class ActiveRows {
  /** rows[j]: the batch index of row j of the run's tensors. */
  rows: number[];
  /** The clean inputs, labels and start points of the active rows: [m, ...], [m], [m, ...]. */
  x: Tensor;
  y: Tensor;
  x0: Tensor;
  private readonly finished: { rows: number[]; tensors: Record<string, Tensor> }[] = [];

  private readonly x0Full: Tensor;

  /** x0 is copied: the run may free its own handle (the first iterate) while this one is still needed. */
  constructor(x: Tensor, y: Tensor, x0: Tensor) {
    this.rows = [...Array(x.size(0)).keys()];
    this.x0Full = x0.clone();
    [this.x, this.y, this.x0] = [x, y, this.x0Full];
  }

  get n(): number {
    return this.x0Full.size(0);
  }

  /** Batch values of the active rows, in row order. */
  pick<T>(values: readonly T[]): T[] {
    return this.rows.map((q) => values[q] as T);
  }

  /** Row values spread to the batch; finished points get `fill`. */
  spread(values: readonly number[], fill: number): number[] {
    const out = new Array<number>(this.n).fill(fill);
    this.rows.forEach((q, j) => (out[q] = values[j] as number));
    return out;
  }

  /**
   * Keeps the rows where keep[j] (x, y, x0 and every tensor of `state`, [m, ...]); the other
   * rows of the tensors named in `kept` are set aside for `assemble`. Returns the narrowed state;
   * the caller's tidy owns every tensor made here.
   */
  narrow<S extends Record<string, Tensor>>(keep: readonly boolean[], state: S, kept: readonly (keyof S & string)[]): S {
    const on = keep.flatMap((k, j) => (k ? [j] : []));
    const off = keep.flatMap((k, j) => (k ? [] : [j]));
    const io = ids(off, this.x);
    this.finished.push({
      rows: off.map((j) => this.rows[j] as number),
      tensors: Object.fromEntries(kept.map((name) => [name, (state[name] as Tensor).index(io)])),
    });
    const ik = ids(on, this.x);
    this.rows = on.map((j) => this.rows[j] as number);
    [this.x, this.y, this.x0] = [this.x.index(ik), this.y.index(ik), this.x0.index(ik)];
    return Object.fromEntries(Object.entries(state).map(([k, t]) => [k, t.index(ik)])) as S;
  }

  /** The whole batch's tensor `name` ([n, ...]): the active rows from `active`, the others as they were set aside. */
  assemble(name: string, active: Tensor): Tensor {
    if (this.finished.length === 0) return active;
    let full = this.rows.length === 0 ? this.x0Full : INDEX_COPY.t(this.x0Full, 0, ids(this.rows, active), active);
    for (const f of this.finished) full = INDEX_COPY.t(full, 0, ids(f.rows, active), f.tensors[name] as Tensor);
    return full;
  }
}
