// AutoAttack (Croce & Hein, "Reliable evaluation of adversarial robustness
// with an ensemble of diverse parameter-free attacks", ICML 2020), as fra31
// auto-attack `autoattack.py` (attacks.md §7). The cascade runner only: the
// attacks live in src/attacks (one file each), the sanity checks in checks.ts,
// the resumable state in state.ts.
//
// Versions (attacks in this order; every attack gets the same seed, default 0):
//   standard  apgd-ce (1 restart), apgd-t (9 targets), fab-t (9 targets), square (5000 queries);
//             L1: apgd-ce 5 restarts and apgd-t 5 targets, both with the 3ε/2ε/ε schedule
//   plus      apgd-ce, apgd-dlr (5 restarts each), fab (5 restarts), square, apgd-t, fab-t
//   rand      apgd-ce, apgd-dlr: 1 restart, EOT over 20 samples (randomised defences)
//   custom    any registered attacks, with fra31's constructor settings for the AA ones
// APGD and FAB run 100 iterations throughout.
//
// Bookkeeping (fra31 `run_standard_evaluation`): a point is robust when clean-
// correct and no attack so far broke it. Each attack runs, in batches, only on
// the points robust when it starts; one forward pass on its output decides
// which it broke. Robust accuracy after each attack is thus non-increasing and
// the final one is the per-point worst case. Beyond fra31: every example is
// re-checked against the threat model (checks.ts `checkAdversarial`) before it
// counts, NaN/Inf gradients are counted per point and reported, and the state
// is saved after every batch so an interrupted run resumes to the same result.
// With `shards` (src/dist/cascade.ts) the batches are spread over the ranks of
// a process group, with the same result (see CascadeShards).
//
//     const r = runAutoAttack(model, x, y, { norm: 'Linf', eps: 8 / 255, statePath: 'aa.state' });
//     console.log(r.robust.accuracy, r.perAttack.map((a) => [a.name, a.robustAccuracy]));
import { checkEps, checkInputs, checkInt, checkLabels, ids, predict } from '../attacks/common.js';
import { ATTACKS, attackNames, createAttack, type AttackOptions } from '../attacks/registry.js';
import type { Attack, Model, Norm } from '../attacks/types.js';
import { Tensor, keep, manualSeed, op, tidy } from '../tensor/index.js';
import {
  checkAdversarial,
  checkNClasses,
  checkRandomized,
  checkRangeOutput,
  checkSquareSr,
  checkZeroGradients,
  startGradient,
  type CheckWarning,
} from './checks.js';
import {
  fingerprint,
  loadState,
  saveState,
  type AttackProgress,
  type AttackRecord,
  type CascadeState,
  type PointEvidence,
} from './state.js';

export type { AttackRecord } from './state.js';

export const VERSIONS = ['standard', 'plus', 'rand', 'custom'] as const;
export type AutoAttackVersion = (typeof VERSIONS)[number];

type Settings = Omit<AttackOptions, 'eps' | 'norm' | 'seed'>;

/** fra31's AutoAttack constructor: the attack objects before `set_version` (what 'custom' runs). */
const CONSTRUCTED: Readonly<Record<string, Settings>> = {
  'apgd-ce': { nIter: 100, nRestarts: 5, eotIter: 1, rho: 0.75 },
  'apgd-dlr': { nIter: 100, nRestarts: 5, eotIter: 1, rho: 0.75 },
  'apgd-t': { nIter: 100, nRestarts: 1, nTargetClasses: 9, eotIter: 1, rho: 0.75 },
  fab: { nIter: 100, nRestarts: 5, nTargetClasses: 9 },
  // NOTE: fra31 sets fab.n_restarts = 1 every time it runs fab-t.
  'fab-t': { nIter: 100, nRestarts: 1, nTargetClasses: 9 },
  square: { nQueries: 5000, pInit: 0.8, nRestarts: 1, squareLoss: 'margin', rescSchedule: false },
};

/** fra31 `set_version`: the attack list and what it changes on the constructed attacks. */
function versionTable(
  version: Exclude<AutoAttackVersion, 'custom'>,
  norm: Norm,
): { attacks: string[]; set: Record<string, Settings> } {
  if (version === 'rand') {
    const apgd = { nRestarts: 1, eotIter: 20 };
    return { attacks: ['apgd-ce', 'apgd-dlr'], set: { 'apgd-ce': apgd, 'apgd-dlr': apgd } };
  }
  const common = { 'fab-t': { nRestarts: 1, nTargetClasses: 9 }, square: { nQueries: 5000 } };
  if (version === 'plus')
    return {
      attacks: ['apgd-ce', 'apgd-dlr', 'fab', 'square', 'apgd-t', 'fab-t'],
      set: {
        ...common,
        'apgd-ce': { nRestarts: 5 },
        'apgd-dlr': { nRestarts: 5 },
        fab: { nRestarts: 5 },
        'apgd-t': { nRestarts: 1, nTargetClasses: 9 },
      },
    };
  const l1 = norm === 'L1';
  return {
    attacks: ['apgd-ce', 'apgd-t', 'fab-t', 'square'],
    set: {
      ...common,
      'apgd-ce': l1 ? { nRestarts: 5, useLargeReps: true } : { nRestarts: 1 },
      'apgd-t': l1 ? { nRestarts: 1, nTargetClasses: 5, useLargeReps: true } : { nRestarts: 1, nTargetClasses: 9 },
    },
  };
}

/** What to run: the threat model, the version and the seed. */
export interface SuiteOptions {
  norm: Norm;
  /** Radius of the threat model, in the norm (finite, > 0). */
  eps: number;
  /** Default 'standard'. */
  version?: AutoAttackVersion;
  /** Registered attack names, in order: 'custom' only (fra31 refuses a list with the other versions). */
  attacks?: readonly string[];
  /** Seed every attack gets (fra31: `seed`, or the clock when None; here always a number, default 0). */
  seed?: number;
  /** Per attack name: options that replace the version's (e.g. { 'apgd-ce': { nIter: 10 } } for a quick run). */
  overrides?: Readonly<Record<string, Partial<AttackOptions>>>;
}

/** One attack of a cascade: a registered name and the options it is created with. */
export interface AttackSpec {
  name: string;
  options: AttackOptions;
}

/** The version's attacks as data; `skipped` = attacks of the version with no port for this norm. */
export function autoAttackPlan(o: SuiteOptions): { specs: AttackSpec[]; skipped: string[] } {
  const version = o.version ?? 'standard';
  if (!(VERSIONS as readonly string[]).includes(version))
    throw new Error(`autoattack: unknown version '${version}' (valid: ${VERSIONS.join(', ')})`);
  if (version !== 'custom' && o.attacks !== undefined && o.attacks.length > 0)
    throw new Error(`autoattack: an attack list needs version 'custom' (version '${version}' fixes its attacks)`);
  if (version === 'custom' && (o.attacks === undefined || o.attacks.length === 0))
    throw new Error(`autoattack: version 'custom' needs a list of attacks (registered: ${attackNames().join(', ')})`);
  const table =
    version === 'custom'
      ? { attacks: [...(o.attacks ?? [])], set: {} as Record<string, Settings> }
      : versionTable(version, o.norm);
  const base = { eps: o.eps, norm: o.norm, seed: o.seed ?? 0 };
  const specs: AttackSpec[] = [];
  const skipped: string[] = [];
  for (const name of table.attacks) {
    // NOTE: a version's attack without a port for this norm (Square L1) is skipped with a warning; a custom one is an error.
    if (version !== 'custom' && ATTACKS[name]?.norms.includes(o.norm) === false) skipped.push(name);
    else specs.push({ name, options: { ...CONSTRUCTED[name], ...table.set[name], ...o.overrides?.[name], ...base } });
  }
  return { specs, skipped };
}

/** Progress of a run, reported after the state reflecting it is saved. */
export type CascadeEvent =
  | { kind: 'clean'; correct: number; total: number; resumed: boolean }
  | {
      kind: 'attack-start';
      name: string;
      index: number;
      attacks: number;
      robust: number;
      total: number;
      batches: number;
      batchesDone: number;
    }
  | {
      kind: 'batch';
      name: string;
      batch: number;
      batches: number;
      fooled: number;
      robust: number;
      total: number;
      seconds: number;
    }
  | { kind: 'attack-end'; record: AttackRecord };

/** How to run it. */
export interface RunOptions {
  /** Points per attack call (fra31 `bs`, default 250). */
  batchSize?: number;
  /** Resume from / save to this state file (state.ts); none by default. */
  statePath?: string;
  onEvent?: (e: CascadeEvent) => void;
  /** Where fired checks go (default: process.emitWarning); they are in the result either way. */
  onWarning?: (w: CheckWarning) => void;
  /**
   * Raise only the warnings fra31's own code prints (the paper protocol): carso's report of points
   * counted robust with NaN/Inf gradients is then not a warning; the counts stay in the result
   * (nanGrad, stopped), where an evaluation shows them as evidence. Default false.
   */
  fra31Warnings?: boolean;
  /** Run the batches on several processes (src/dist/cascade.ts); the result is the single-process one. */
  shards?: CascadeShards;
}

/** What one attack call did to one batch: per point, the decision pass and the threat-model check. */
export interface BatchOutcome extends PointEvidence {
  /** Predicted label on the attack's example. */
  pred: number[];
  /** The example is inside the threat model. */
  valid: boolean[];
  /** The attack saw a NaN/Inf loss or gradient at this point. */
  nanGrad: boolean[];
  queries: number;
  /** The examples of the points it broke (misclassified and valid), in batch order: [k, ...]; null if none. */
  broken: Tensor | null;
}

/** Where the cascade starts: the state file's (resumed) or a fresh clean pass, and the examples so far. */
export interface CascadeStart {
  state: CascadeState;
  /** [n, ...] */
  xAdv: Tensor;
  resumed: boolean;
}

/**
 * The cascade's batches spread over the ranks of a process group: round by
 * round, rank r attacks batch b + r of the single-process plan, then every rank
 * applies every outcome in batch order. Each batch is reseeded with the run's
 * seed (see `runBatch`), so every point meets exactly the randomness it meets in
 * one process, and every rank ends with the single-process result. Rank 0 alone
 * reads and writes the state file, whose batch counter stays a single-process
 * one: a run resumes on any number of ranks.
 */
export interface CascadeShards {
  readonly rank: number;
  readonly size: number;
  /** Throws unless every rank runs a cascade with this fingerprint (same settings, same data). */
  agree(fingerprint: string): void;
  /** Rank 0's start (`begin` is called there only) on every rank; x: the cascade's inputs. */
  start(begin: () => CascadeStart, x: Tensor, fingerprint: string): CascadeStart;
  /** Every rank's outcome of this round (null: no batch left for that rank), by rank. */
  exchange(mine: BatchOutcome | null): (BatchOutcome | null)[];
}

export type AutoAttackOptions = SuiteOptions & RunOptions;

export interface Count {
  correct: number;
  total: number;
  accuracy: number;
}

/** moved, stopped: per point, over every attack of the cascade (PointEvidence). */
export interface AutoAttackResult extends PointEvidence {
  version: AutoAttackVersion;
  norm: Norm;
  eps: number;
  seed: number;
  batchSize: number;
  attacks: string[];
  clean: Count;
  /** Final robust accuracy: the per-point worst case, after the threat-model re-check. */
  robust: Count;
  perAttack: AttackRecord[];
  /** Points whose loss or gradient went NaN/Inf in some attack; `robust`: those still counted robust. */
  nanGrad: { points: number; robust: number; robustIndices: number[] };
  /** Per point: some attack met a NaN/Inf loss or gradient on it. */
  nonFinite: boolean[];
  /** The re-check of the final adversarial batch: examples rejected (counted robust again), extremes. */
  finalCheck: { rejected: number[]; maxDistance: number; tolerance: number; min: number; max: number };
  warnings: CheckWarning[];
  /** True when this call continued a saved state. */
  resumed: boolean;
  /** Per point: still robust. */
  robustFlags: boolean[];
  /** Per point: the label predicted on its adversarial example (the clean prediction where unbroken). */
  yAdv: number[];
  /** [n, ...] adversarial examples (x where unbroken); the caller owns it. */
  xAdv: Tensor;
}

/**
 * AutoAttack on x: [n, C, H, W] in [0, 1], y: int64 [n]. Runs the version's
 * attacks as a cascade (see the file header); saves and resumes `statePath`.
 */
export function runAutoAttack(model: Model, x: Tensor, y: Tensor, o: AutoAttackOptions): AutoAttackResult {
  const plan = autoAttackPlan(o);
  return runCascade(model, x, y, o, plan.specs, plan.skipped);
}

/**
 * The same cascade over explicit attack specs (e.g. one attack with its class
 * defaults: [{ name: 'apgd-ce', options: { eps, norm } }]); reported as 'custom'.
 */
export function runAttacks(
  model: Model,
  x: Tensor,
  y: Tensor,
  specs: readonly AttackSpec[],
  o: Omit<AutoAttackOptions, 'version' | 'attacks' | 'overrides'>,
): AutoAttackResult {
  if (specs.length === 0) throw new Error('autoattack: no attacks to run');
  const base = { eps: o.eps, norm: o.norm, seed: o.seed ?? 0 };
  return runCascade(
    model,
    x,
    y,
    { ...o, version: 'custom' },
    specs.map((s) => ({ name: s.name, options: { ...s.options, ...base } })),
    [],
  );
}

/**
 * fra31 `run_standard_evaluation_individual`: each of the version's attacks
 * alone on all points (no state files). Keyed by attack name.
 */
export function runIndividual(
  model: Model,
  x: Tensor,
  y: Tensor,
  o: SuiteOptions & Omit<RunOptions, 'statePath'>,
): Record<string, AutoAttackResult> {
  const plan = autoAttackPlan(o);
  return Object.fromEntries(plan.specs.map((s) => [s.name, runCascade(model, x, y, o, [s], [])]));
}

const INDEX_COPY = op('index_copy');

/** Fired checks: printed once each, all kept for the result. */
class Warnings {
  readonly list: CheckWarning[] = [];
  constructor(private readonly sink: (w: CheckWarning) => void) {}
  add(w: CheckWarning | null): void {
    if (w === null || this.list.some((v) => v.message === w.message)) return;
    this.list.push(w);
    this.sink(w);
  }
}

const count = (flags: readonly boolean[]): Count => {
  const correct = flags.filter(Boolean).length;
  return { correct, total: flags.length, accuracy: correct / Math.max(1, flags.length) };
};
const indicesOf = (flags: readonly boolean[]): number[] => flags.flatMap((f, i) => (f ? [i] : []));

/** Checks the inputs, runs the pre-run checks, then the cascade (resuming `statePath` when it exists). */
function runCascade(
  model: Model,
  x: Tensor,
  y: Tensor,
  o: AutoAttackOptions,
  specs: AttackSpec[],
  skipped: string[],
): AutoAttackResult {
  const version = o.version ?? 'standard';
  const seed = o.seed ?? 0;
  const bs = o.batchSize ?? 250;
  checkEps('autoattack', o.eps);
  checkInt('autoattack', 'batchSize', bs, 1);
  checkInt('autoattack', 'seed', seed, 0);
  checkInputs('autoattack', x, y);
  // every attack is built (and its options checked) before any work starts
  const attacks = specs.map((s) => createAttack(s.name, s.options));
  const warnings = new Warnings(o.onWarning ?? ((w) => process.emitWarning(w.message, 'CarsoAutoAttackWarning')));
  for (const name of skipped)
    warnings.add({
      check: 'not-ported',
      message: `${name} has no ${o.norm} version in carso: skipped (fra31 runs it), so the evaluation is weaker`,
    });
  preChecks(model, x, y, version, specs, bs, warnings);
  const fp = fingerprint({ version, norm: o.norm, eps: o.eps, seed, batchSize: bs, specs }, x, y);
  o.shards?.agree(fp);
  const begin = (): CascadeStart => {
    const loaded = o.statePath === undefined ? null : loadState(o.statePath, fp, x);
    if (loaded !== null) return { ...loaded, resumed: true };
    return { state: cleanState(model, x, y, bs, seed), xAdv: tidy(() => x.detach().clone()), resumed: false };
  };
  const start = o.shards === undefined ? begin() : o.shards.start(begin, x, fp);
  const save = (st: CascadeState, xAdv: Tensor): void => {
    if (o.statePath !== undefined && (o.shards?.rank ?? 0) === 0) saveState(o.statePath, fp, st, xAdv);
  };
  const ctx = {
    seed,
    bs,
    emit: o.onEvent ?? (() => {}),
    save,
    warnings,
    shards: o.shards,
    fra31Warnings: o.fra31Warnings ?? false,
  };
  const cascade = new Cascade(model, x, y, ctx, start.state, start.xAdv);
  if (!start.resumed) cascade.save();
  cascade.emit({ kind: 'clean', correct: count(start.state.clean).correct, total: x.size(0), resumed: start.resumed });
  cascade.run(specs, attacks);
  const r = cascade.finish(o.norm, o.eps);
  return {
    version,
    norm: o.norm,
    eps: o.eps,
    seed,
    batchSize: bs,
    attacks: specs.map((s) => s.name),
    ...r,
    resumed: start.resumed,
  };
}

interface CascadeContext {
  seed: number;
  bs: number;
  emit: (e: CascadeEvent) => void;
  save: (st: CascadeState, xAdv: Tensor) => void;
  warnings: Warnings;
  shards?: CascadeShards;
  fra31Warnings: boolean;
}

/** The running bookkeeping: the state (flags, records, progress) and the adversarial batch xAdv: [n, ...]. */
class Cascade {
  private xAdv: Tensor;
  private readonly labels: number[];

  constructor(
    private readonly model: Model,
    private readonly x: Tensor,
    private readonly y: Tensor,
    private readonly ctx: CascadeContext,
    private readonly st: CascadeState,
    xAdv: Tensor,
  ) {
    // NOTE: xAdv is replaced batch by batch and owned here (then by the caller), not by any enclosing tidy.
    this.xAdv = keep(xAdv);
    this.labels = y.toArray();
    st.warnings.forEach((w) => ctx.warnings.add(w));
  }

  save(): void {
    this.ctx.save(this.st, this.xAdv);
  }

  emit(e: CascadeEvent): void {
    this.ctx.emit(e);
  }

  /** The attacks in order, from where the state stands; saves after every batch and attack. */
  run(specs: readonly AttackSpec[], attacks: readonly Attack[]): void {
    const st = this.st;
    if (st.done) return;
    for (;;) {
      const a = st.current?.attack ?? st.next;
      if (a >= specs.length) break;
      if (st.current === null) {
        const order = indicesOf(st.robust);
        st.records.push(newRecord(specs[a] as AttackSpec, st, order.length));
        // fra31: the cascade stops when nothing robust is left (the later attacks get `ran: false` records)
        if (order.length === 0) {
          st.next = a + 1;
          continue;
        }
        st.current = { attack: a, order, batchesDone: 0 };
      }
      this.runAttack(st.current, attacks[a] as Attack, specs.length);
    }
    st.done = true;
    this.save();
  }

  /** The remaining batches of one attack (fra31: the points robust when it started, in batches of bs). */
  private runAttack(prog: AttackProgress, attack: Attack, attacks: number): void {
    const rec = this.st.records[prog.attack] as AttackRecord;
    const nb = Math.ceil(prog.order.length / this.ctx.bs);
    const { name } = rec;
    this.emit({
      kind: 'attack-start',
      name,
      index: prog.attack,
      attacks,
      robust: rec.robust,
      total: rec.total,
      batches: nb,
      batchesDone: prog.batchesDone,
    });
    const batch = (b: number): number[] => prog.order.slice(b * this.ctx.bs, (b + 1) * this.ctx.bs);
    const { rank = 0, size = 1 } = this.ctx.shards ?? {};
    // a round: one batch per rank (one process: one batch), applied in batch order, then one save
    for (let b = prog.batchesDone; b < nb; b += size) {
      const t0 = performance.now();
      const mine = b + rank < nb ? this.runBatch(batch(b + rank), attack) : null;
      const outcomes = this.ctx.shards === undefined ? [mine] : this.ctx.shards.exchange(mine);
      const fooled = outcomes.slice(0, nb - b).map((out, k) => this.applyBatch(batch(b + k), out as BatchOutcome, rec));
      rec.seconds += (performance.now() - t0) / 1000;
      rec.batches = prog.batchesDone = Math.min(nb, b + size);
      this.save();
      fooled.forEach((f, k) =>
        this.emit({
          kind: 'batch',
          name,
          batch: b + k + 1,
          batches: nb,
          fooled: f,
          robust: rec.robust,
          total: rec.total,
          seconds: rec.seconds,
        }),
      );
    }
    if (rec.rejected > 0) {
      const w: CheckWarning = {
        check: 'threat-model',
        message: `${name} returned ${rec.rejected} misclassified examples outside the threat model (box or ${attack.norm} ball of ${attack.eps}): rejected, those points stay robust`,
      };
      this.st.warnings.push(w);
      this.ctx.warnings.add(w);
    }
    this.st.current = null;
    this.st.next = prog.attack + 1;
    this.save();
    this.emit({ kind: 'attack-end', record: rec });
  }

  /**
   * One attack call on the points idx (all robust): what it did, nothing applied yet.
   * NOTE: the RNG is reseeded before every batch (fra31 reseeds inside each
   * attack call; reseeding here too also fixes the attack's clean pass for
   * stochastic models), so a batch's outcome depends only on its points and the
   * seed: what makes a resumed run end exactly as an uninterrupted one, and a
   * batch attacked by another rank end as it does here.
   */
  private runBatch(idx: number[], attack: Attack): BatchOutcome {
    const { model, x } = this;
    return tidy(() => {
      const ib = ids(idx, x);
      const xb = x.index(ib);
      manualSeed(this.ctx.seed);
      const res = attack.attack(model, xb, this.y.index(ib));
      // fra31: a single forward pass on the attack's output decides (one stochastic sample for randomised models)
      const pred = predict(model, res.xAdv);
      const valid = checkAdversarial(xb, res.xAdv, attack.norm, attack.eps).ok;
      const src = idx.flatMap((i, j) => (pred[j] !== this.labels[i] && valid[j] === true ? [j] : []));
      const broken = src.length === 0 ? null : res.xAdv.index(ids(src, x)).to(this.xAdv.dtype);
      const nanGrad = idx.map((_, j) => res.nanGrad[j] === true);
      const moved = idx.map((_, j) => res.moved?.[j] ?? null);
      const stopped = idx.map((_, j) => res.stopped?.[j] ?? null);
      return { pred, valid, nanGrad, moved, stopped, queries: res.queries, broken };
    });
  }

  /** Applies one batch's outcome to the state, the record and xAdv; frees it; returns how many points it broke. */
  private applyBatch(idx: number[], out: BatchOutcome, rec: AttackRecord): number {
    const { st } = this;
    const dst: number[] = [];
    idx.forEach((i, j) => {
      if (out.nanGrad[j] === true) [st.nanGrad[i], rec.nanGrad] = [true, rec.nanGrad + 1];
      const m = out.moved[j];
      if (m !== undefined && m !== null) st.moved[i] = Math.max(st.moved[i] ?? 0, m);
      const why = out.stopped[j];
      if (why !== undefined && why !== null) [st.stopped[i], rec.stopped] = [st.stopped[i] ?? why, rec.stopped + 1];
      if (out.pred[j] === this.labels[i]) return;
      if (out.valid[j] !== true) return void rec.rejected++;
      [st.robust[i], st.yAdv[i]] = [false, out.pred[j] as number];
      dst.push(i);
    });
    rec.queries += out.queries + 1;
    rec.fooled += dst.length;
    rec.robust -= dst.length;
    rec.robustAccuracy = rec.robust / Math.max(1, rec.total);
    if (out.broken === null) return 0;
    const next = keep(tidy(() => INDEX_COPY.t(this.xAdv, 0, ids(dst, this.x), out.broken as Tensor)));
    out.broken.dispose();
    this.xAdv.dispose();
    this.xAdv = next;
    return dst.length;
  }

  /** Square's check, the final threat-model re-check, the NaN report; the result's bookkeeping part. */
  finish(
    norm: Norm,
    eps: number,
  ): Omit<AutoAttackResult, 'version' | 'norm' | 'eps' | 'seed' | 'batchSize' | 'attacks' | 'resumed'> {
    const { st, ctx } = this;
    const ran = st.records.filter((r) => r.ran).map((r) => [r.name, r.robustAccuracy]);
    ctx.warnings.add(checkSquareSr(Object.fromEntries([['clean', count(st.clean).accuracy], ...ran]) as Record<string, number>));
    const finalCheck = this.finalCheck(norm, eps);
    const nanRobust = indicesOf(st.nanGrad.map((f, i) => f && st.robust[i] === true));
    if (nanRobust.length > 0 && !ctx.fra31Warnings)
      ctx.warnings.add({
        check: 'nan-gradients',
        message: `${nanRobust.length} points counted robust had NaN/Inf losses or gradients: their robustness is not established (check the model's numerics)`,
      });
    return {
      clean: count(st.clean),
      robust: count(st.robust),
      perAttack: st.records,
      nanGrad: { points: st.nanGrad.filter(Boolean).length, robust: nanRobust.length, robustIndices: nanRobust },
      finalCheck,
      warnings: ctx.warnings.list,
      nonFinite: st.nanGrad,
      moved: st.moved,
      stopped: st.stopped,
      robustFlags: st.robust,
      yAdv: st.yAdv,
      xAdv: this.xAdv,
    };
  }

  /**
   * The re-check of the final adversarial batch before accuracy is reported
   * (fra31 logs max perturbation, NaN count and range here): any broken point
   * whose example fails the threat model is counted robust again, its example
   * reset to x, and a warning says so.
   */
  private finalCheck(norm: Norm, eps: number): AutoAttackResult['finalCheck'] {
    const { x, y, st } = this;
    const chk = checkAdversarial(x, this.xAdv, norm, eps);
    const rejected = indicesOf(chk.ok.map((ok, i) => !ok && st.clean[i] === true && !st.robust[i]));
    if (rejected.length > 0) {
      const labels = y.toArray();
      for (const i of rejected) [st.robust[i], st.yAdv[i]] = [true, labels[i] as number];
      const worst = Math.max(...rejected.map((i) => chk.distance[i] as number));
      this.ctx.warnings.add({
        check: 'threat-model',
        message: `final re-check: ${rejected.length} adversarial examples outside the threat model (box or ${norm} ball of ${eps}; worst distance ${worst}) rejected: those points count as robust`,
      });
      const next = keep(tidy(() => INDEX_COPY.t(this.xAdv, 0, ids(rejected, x), x.index(ids(rejected, x)))));
      this.xAdv.dispose();
      this.xAdv = next;
    }
    const [min, max] = tidy(() => [this.xAdv.min().item(), this.xAdv.max().item()]);
    const maxDistance = Math.max(0, ...chk.distance.filter((_, i) => chk.ok[i] === true));
    return { rejected, maxDistance, tolerance: chk.tolerance, min, max };
  }
}

/**
 * fra31's checks before the run, on the first batch: randomness (not for
 * 'rand' or attacks that all use EOT), outputs that look like probabilities
 * (also gives K, against which the labels are checked), too few classes for
 * the attacks, zero gradients at the start of the gradient attacks.
 */
function preChecks(
  model: Model,
  x: Tensor,
  y: Tensor,
  version: AutoAttackVersion,
  specs: AttackSpec[],
  bs: number,
  warnings: Warnings,
): void {
  tidy(() => {
    const n = Math.min(bs, x.size(0));
    const [xh, yh] = [x.narrow(0, 0, n), y.narrow(0, 0, n)];
    // NOTE: nor when every attack already averages its gradients over EOT samples (a custom run
    // built for a randomised model, e.g. CARSO's eps 0.95 check): the advice would be noise there
    const eot = specs.every((s) => (s.options.eotIter ?? 1) > 1);
    if (version !== 'rand' && !eot) warnings.add(checkRandomized(model, xh, yh));
    const { K, warning } = checkRangeOutput(model, xh);
    warnings.add(warning);
    checkLabels('autoattack', y, K);
    const names = specs.map((s) => s.name);
    const targets = (name: string): number => specs.find((s) => s.name === name)?.options.nTargetClasses ?? 9;
    warnings.add(checkNClasses(K, names, targets('apgd-t'), targets('fab-t')));
    // NOTE: on the clean-correct points only, as APGD attacks only those (DLR is constant where y is 3rd).
    const labels = yh.toArray();
    const ok = indicesOf(predict(model, xh).map((p, i) => p === labels[i]));
    if (names.some((s) => s !== 'square') && ok.length > 0) {
      const io = ids(ok, x);
      const g = startGradient(model, xh.index(io), yh.index(io), K);
      warnings.add(checkZeroGradients(g.grad, g.nonFinite));
    }
  });
}

/**
 * The clean pass in batches: robust = clean-correct; yAdv = clean prediction.
 * NOTE: seeded (fra31 is not) so a randomised model's clean accuracy does not
 * depend on what ran before in the process.
 */
function cleanState(model: Model, x: Tensor, y: Tensor, bs: number, seed: number): CascadeState {
  manualSeed(seed);
  const labels = y.toArray();
  const pred: number[] = [];
  for (let s = 0; s < x.size(0); s += bs) pred.push(...tidy(() => predict(model, x.narrow(0, s, Math.min(bs, x.size(0) - s)))));
  const clean = pred.map((p, i) => p === labels[i]);
  return {
    clean,
    robust: clean.slice(),
    nanGrad: clean.map(() => false),
    moved: clean.map(() => null),
    stopped: clean.map(() => null),
    yAdv: pred,
    records: [],
    next: 0,
    current: null,
    warnings: [],
    done: false,
  };
}

function newRecord(spec: AttackSpec, st: CascadeState, attacked: number): AttackRecord {
  const robust = st.robust.filter(Boolean).length;
  const total = st.robust.length;
  return {
    name: spec.name,
    robustAccuracy: robust / Math.max(1, total),
    robust,
    total,
    attacked,
    fooled: 0,
    rejected: 0,
    nanGrad: 0,
    stopped: 0,
    queries: 0,
    seconds: 0,
    batches: 0,
    ran: attacked > 0,
    settings: spec.options,
  };
}
