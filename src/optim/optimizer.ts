// The optimiser base: parameter groups, per-parameter state, the step loop,
// and the checkpoint format every optimiser (and Lookahead) shares.
//
// Checkpoint format (`stateDict()` / `loadStateDict()`): everything but
// `tensors` is plain JSON; `tensors` maps names to tensors, ready for a
// safetensors file. Keys:
//   scalars  'state.<i>.step'        steps taken by parameter i (flat index over groups, in order)
//            'lookahead.counter|k|alpha' (Lookahead only)
//   tensors  'state.<i>.<buffer>'    e.g. state.0.exp_avg, state.3.momentum_buffer
//            'lookahead.slow.<i>'    (Lookahead only)
// A parameter that never had a gradient has no entries (as in PyTorch).
//
//     const { tensors, ...json } = opt.stateDict(); // tensors: fresh copies, yours to free
//     writeFileSync('opt.json', JSON.stringify(json));
//     saveSafetensors('opt.safetensors', tensors);  // then dispose(tensors)
//     ...
//     opt.loadStateDict({ ...JSON.parse(readFileSync('opt.json', 'utf8')), tensors: loaded });
import { Tensor, keep, noGrad, tidy, zerosLike, dispose } from '../tensor/index.js';

/** A JSON-able hyper-parameter value. */
export type HyperValue = number | boolean | readonly number[];

/** Every optimiser's hyper-parameters include the learning rate. */
export interface Hyper {
  lr: number;
}

/** A parameter group: its tensors and its own hyper-parameters (PyTorch's param_groups). */
export type ParamGroup<H extends Hyper> = H & { params: Tensor[] };

/** A group as given to a constructor: hyper-parameters not given come from the defaults. */
export type GroupInput<H extends Hyper> = Partial<H> & { params: readonly Tensor[] };

/** A flat parameter list (one group), or groups with their own overrides. */
export type ParamsInput<H extends Hyper> = readonly Tensor[] | readonly GroupInput<H>[];

/** Per-parameter state: steps taken and named buffers (PyTorch's optimizer.state[p]). */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

/** A checkpoint of an optimiser; see the header of this file for the keys. */
export interface OptimizerState {
  /** 'SGD', 'Adam', 'AdamW', 'RAdam', 'Lookahead(RAdam)', ...: checked on load. */
  kind: string;
  /** Per group: hyper-parameters and the flat indices of its parameters. */
  groups: { hyper: Record<string, HyperValue>; params: number[] }[];
  scalars: Record<string, number>;
  tensors: Record<string, Tensor>;
}

/** The group fields schedulers touch (momentum: SGD; betas[0]: the Adam family). */
export interface GroupLike {
  lr: number;
  momentum?: number;
  betas?: [number, number];
  params: Tensor[];
}

/** What training loops and LR schedulers use: every Optimizer, and Lookahead. */
export interface OptimizerLike {
  readonly kind: string;
  readonly paramGroups: readonly GroupLike[];
  zeroGrad(): void;
  step(): void;
  stateDict(): OptimizerState;
  loadStateDict(sd: OptimizerState): void;
  dispose(): void;
}

export abstract class Optimizer<H extends Hyper> implements OptimizerLike {
  abstract readonly kind: string;
  readonly paramGroups: ParamGroup<H>[];
  protected readonly state = new Map<Tensor, ParamState>();

  constructor(params: ParamsInput<H>, defaults: H) {
    const groups: readonly GroupInput<H>[] = params.every((p) => p instanceof Tensor)
      ? [{ params: params as readonly Tensor[] } as GroupInput<H>]
      : (params as readonly GroupInput<H>[]);
    const seen = new Set<Tensor>();
    for (const g of groups)
      for (const p of g.params) {
        if (!p.requiresGrad) throw new Error(`${this.constructor.name}: every parameter must require grad (${p})`);
        if (seen.has(p)) throw new Error(`${this.constructor.name}: a parameter appears twice`);
        seen.add(p);
      }
    this.paramGroups = groups.map((g) => ({ ...defaults, ...g, params: [...g.params] }));
  }

  /** All parameters, groups in order: index i here is 'state.<i>' in checkpoints. */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Clears every gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) p.setGrad(null);
  }

  /** One update of every parameter that has a gradient; the others keep their state unchanged. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups)
        for (const p of group.params)
          // NOTE: one tidy per parameter bounds the temporaries to one parameter's worth.
          tidy(() => {
            const grad = p.grad;
            if (grad === null) return;
            let s = this.state.get(p);
            if (s === undefined) this.state.set(p, (s = { step: 0, buffers: {} }));
            s.step += 1;
            this.update(p, grad, s, group);
          });
    });
  }

  /** The update rule: change `p` in place from `grad`; `s.step` already counts this step. */
  protected abstract update(p: Tensor, grad: Tensor, s: ParamState, h: H): void;

  /** The buffer `name` of `s`, zeros like `p` on first use (kept out of the step's tidy). */
  protected buffer(s: ParamState, name: string, p: Tensor): Tensor {
    return (s.buffers[name] ??= keep(zerosLike(p)));
  }

  stateDict(): OptimizerState {
    const params = this.params;
    const scalars: Record<string, number> = {};
    const tensors: Record<string, Tensor> = {};
    params.forEach((p, i) => {
      const s = this.state.get(p);
      if (s === undefined) return;
      scalars[`state.${i}.step`] = s.step;
      for (const [name, t] of Object.entries(s.buffers)) tensors[`state.${i}.${name}`] = t.clone();
    });
    let next = 0;
    const groups = this.paramGroups.map(({ params: ps, ...hyper }) => ({
      hyper: jsonHyper(hyper),
      params: ps.map(() => next++),
    }));
    return { kind: this.kind, groups, scalars, tensors };
  }

  /** Restores hyper-parameters and state (copied: `sd` stays the caller's); all or nothing. */
  loadStateDict(sd: OptimizerState): void {
    if (sd.kind !== this.kind) throw new Error(`loadStateDict: checkpoint is for ${sd.kind}, this is ${this.kind}`);
    if (sd.groups.length !== this.paramGroups.length)
      throw new Error(`loadStateDict: ${sd.groups.length} groups in the checkpoint, ${this.paramGroups.length} here`);
    sd.groups.forEach((g, i) => restoreHyper(this.paramGroups[i]!, g, i, false));
    const params = this.params;
    const states = readStates(sd, params);
    sd.groups.forEach((g, i) => restoreHyper(this.paramGroups[i]!, g, i, true));
    this.dispose();
    for (const [i, s] of states) this.state.set(params[i]!, s);
  }

  /** Frees the state buffers (the parameters are the caller's). */
  dispose(): void {
    for (const s of this.state.values()) dispose(Object.values(s.buffers));
    this.state.clear();
  }
}

function jsonHyper(hyper: object): Record<string, HyperValue> {
  const out: Record<string, HyperValue> = {};
  for (const [k, v] of Object.entries(hyper) as [string, unknown][]) {
    const ok = typeof v === 'number' || typeof v === 'boolean' || (Array.isArray(v) && v.every((x) => typeof x === 'number'));
    if (!ok) throw new Error(`stateDict: hyper-parameter ${k} is not a number, boolean or number array`);
    out[k] = Array.isArray(v) ? [...(v as number[])] : (v as number | boolean);
  }
  return out;
}

/** Checks (and with `apply`, copies) a saved group's hyper-parameters onto `group`. */
function restoreHyper(
  group: Hyper & { params: Tensor[] },
  saved: OptimizerState['groups'][number],
  gi: number,
  apply: boolean,
): void {
  if (saved.params.length !== group.params.length)
    throw new Error(
      `loadStateDict: group ${gi} has ${saved.params.length} parameters in the checkpoint, ${group.params.length} here`,
    );
  const target = group as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(saved.hyper)) {
    const cur = target[k];
    if (
      k === 'params' ||
      cur === undefined ||
      Array.isArray(cur) !== Array.isArray(v) ||
      (!Array.isArray(v) && typeof cur !== typeof v)
    )
      throw new Error(`loadStateDict: group ${gi}: hyper-parameter ${k} does not fit this optimiser`);
    if (apply) target[k] = Array.isArray(v) ? [...v] : v;
  }
}

/** Per-parameter states from a checkpoint, as copies owned by the optimiser (none left behind on error). */
function readStates(sd: OptimizerState, params: readonly Tensor[]): Map<number, ParamState> {
  const states = new Map<number, ParamState>();
  const stateAt = (i: number): ParamState => {
    if (params[i] === undefined) throw new Error(`loadStateDict: parameter ${i} does not exist (${params.length} here)`);
    let s = states.get(i);
    if (s === undefined) states.set(i, (s = { step: 0, buffers: {} }));
    return s;
  };
  try {
    for (const [key, v] of Object.entries(sd.scalars)) stateAt(parseKey(key, 'step').index).step = v;
    noGrad(() => {
      for (const [key, t] of Object.entries(sd.tensors)) {
        const { index, name } = parseKey(key);
        const s = stateAt(index);
        const p = params[index]!;
        if (t.shape.join() !== p.shape.join())
          throw new Error(`loadStateDict: ${key} has shape [${t.shape}], parameter [${p.shape}]`);
        // NOTE: copied into zeros like p, so dtype and device follow the parameter, not the file.
        s.buffers[name] = keep(tidy(() => zerosLike(p).copy_(t)));
      }
    });
  } catch (err) {
    for (const s of states.values()) dispose(Object.values(s.buffers));
    throw err;
  }
  return states;
}

function parseKey(key: string, want?: string): { index: number; name: string } {
  const m = /^state\.(\d+)\.(.+)$/.exec(key);
  if (m === null || (want !== undefined && m[2] !== want)) throw new Error(`loadStateDict: unexpected key '${key}'`);
  return { index: Number(m[1]), name: m[2]! };
}
