// The Module base class (torch.nn.Module's model): named parameters, buffers
// and children with PyTorch's dotted state-dict names, train/eval mode and
// forward hooks. Parameters and buffers are kept out of tidy scopes: they live
// until `dispose()`.
import { Tensor, keep, noGrad, type Device, type DType } from '../tensor/index.js';
import { loadStateDict, stateEntries, type LoadResult, type StateDictInput } from './state-dict.js';

/**
 * Called after `forward` with the module, its input and its output; a returned
 * tensor replaces the output. NOTE: containers run their children inside
 * `tidy`, so a hook that stores `output` beyond the call must `keep` it (and
 * dispose it later).
 */
export type ForwardHook = (module: Module, input: Tensor, output: Tensor) => Tensor | void;

type Kind = 'param' | 'buffer';
export const FLOATING: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16'];

/**
 * Subclass it: register tensors and children in field initialisers, compute in
 * `forward` (under `tidy` when it makes intermediates), call children via `call`.
 *
 *     class Net extends Module {
 *       readonly fc = this.addModule('fc', new Linear(4, 2));
 *       forward(x: Tensor): Tensor { return tidy(() => this.fc.call(x).relu()); } // x: [B, 4] -> [B, 2]
 *     }
 */
export abstract class Module {
  /** Train mode (batch statistics, dropout on); switch with `train()` / `eval()`. */
  training = true;
  private readonly slots: Record<Kind, Map<string, Tensor | null>> = { param: new Map(), buffer: new Map() };
  private readonly childMap = new Map<string, Module>();
  private readonly hooks = new Map<number, ForwardHook>();
  private nextHookId = 0;

  /** The computation; callers use `call`, which also runs the hooks. */
  abstract forward(x: Tensor): Tensor;

  /** forward(x), then the forward hooks in registration order. Containers call children through this. */
  call(x: Tensor): Tensor {
    let out = this.forward(x);
    for (const hook of [...this.hooks.values()]) {
      const replaced = hook(this, x, out);
      if (replaced instanceof Tensor) out = replaced;
    }
    return out;
  }

  /** Adds a hook run after every `call`; returns a function that removes it. */
  registerForwardHook(fn: ForwardHook): () => void {
    const id = this.nextHookId++;
    this.hooks.set(id, fn);
    return () => void this.hooks.delete(id);
  }

  // ---- registration -----------------------------------------------------------
  /** Registers (or replaces) a parameter: kept out of tidy scopes, requiresGrad on. null = an absent optional one (e.g. bias). */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    this.checkName(name, 'param');
    this.slots.param.set(name, t === null ? null : keep(t).requiresGrad_(true));
    return t;
  }

  /** Registers (or replaces) a buffer: saved in the state dict, never trained. */
  registerBuffer<T extends Tensor | null>(name: string, t: T): T {
    this.checkName(name, 'buffer');
    this.slots.buffer.set(name, t === null ? null : keep(t));
    return t;
  }

  /** Registers a child; its tensors' names get the prefix `name.`. */
  addModule<M extends Module>(name: string, m: M): M {
    this.checkName(name, 'child');
    this.childMap.set(name, m);
    return m;
  }

  private checkName(name: string, kind: Kind | 'child'): void {
    if (name === '' || name.includes('.'))
      throw new Error(`${this.constructor.name}: invalid ${kind} name '${name}' (non-empty, no dots)`);
    const taken = (['param', 'buffer', 'child'] as const).find(
      (k) => k !== kind && (k === 'child' ? this.childMap : this.slots[k]).has(name),
    );
    if (taken !== undefined) throw new Error(`${this.constructor.name}: '${name}' is already a ${taken}`);
  }

  /** A registered parameter that must be present (layers read their weights through this). */
  protected param(name: string): Tensor {
    const t = this.slots.param.get(name);
    if (!t) throw new Error(`${this.constructor.name}: no parameter '${name}'`);
    return t;
  }

  /** A registered parameter or buffer, or null when registered as absent. */
  protected optional(name: string, kind: Kind): Tensor | null {
    return this.slots[kind].get(name) ?? null;
  }

  // ---- traversal (PyTorch order: depth-first, own tensors before children's) --
  namedChildren(): [string, Module][] {
    return [...this.childMap];
  }
  children(): Module[] {
    return [...this.childMap.values()];
  }
  /** Every module with its dotted name, this one first as ''. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.childMap) out.push(...c.namedModules(prefix === '' ? n : `${prefix}.${n}`));
    return out;
  }
  namedParameters(): [string, Tensor][] {
    return this.namedTensors(['param']);
  }
  /** Parameters, each once even if shared between modules. */
  parameters(): Tensor[] {
    return [...new Set(this.namedParameters().map(([, t]) => t))];
  }
  namedBuffers(): [string, Tensor][] {
    return this.namedTensors(['buffer']);
  }

  private namedTensors(kinds: readonly Kind[]): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules())
      for (const k of kinds) for (const [n, t] of m.slots[k]) if (t !== null) out.push([prefix === '' ? n : `${prefix}.${n}`, t]);
    return out;
  }

  // ---- state --------------------------------------------------------------------
  /**
   * Parameters and buffers by dotted name, in PyTorch's state_dict order. The
   * values are the module's own tensors, not copies: do not dispose them.
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedTensors(['param', 'buffer']));
  }

  /** Copies `dict` into this module's tensors in place; see state-dict.ts for the checks. */
  loadStateDict(dict: StateDictInput, opts: { strict?: boolean } = {}): LoadResult {
    return loadStateDict(this, dict, opts);
  }

  /**
   * Runs fn with some parameters/buffers (by dotted name) temporarily replaced
   * by the tensors given, as torch.func.functional_call: gradients then flow to
   * those tensors. The given tensors are not kept or altered.
   */
  withTensors<T>(replacements: StateDictInput, fn: () => T): T {
    const undo: (() => void)[] = [];
    try {
      for (const [name, t] of stateEntries(replacements)) {
        const dot = name.lastIndexOf('.');
        const owner = dot < 0 ? this : this.namedModules().find(([n]) => n === name.slice(0, dot))?.[1];
        const leaf = name.slice(dot + 1);
        const map = owner && (['param', 'buffer'] as const).map((k) => owner.slots[k]).find((s) => s.get(leaf));
        if (map === undefined) throw new Error(`${this.constructor.name}.withTensors: no parameter or buffer '${name}'`);
        const old = map.get(leaf) ?? null;
        map.set(leaf, t);
        undo.push(() => map.set(leaf, old));
      }
      return fn();
    } finally {
      for (const u of undo.reverse()) u();
    }
  }

  // ---- modes and placement --------------------------------------------------------
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Switches gradient recording on or off for every parameter. */
  requiresGrad_(on = true): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /** Moves every parameter and buffer (replacing the tensors: build optimisers afterwards). */
  toDevice(device: Device): this {
    return this.mapTensors((t) => (t.device === device ? null : t.toDevice(device)));
  }
  /** Converts floating parameters and buffers (int64 counters stay), e.g. 'float64' for gradcheck. */
  to(dtype: DType): this {
    return this.mapTensors((t) => (t.dtype === dtype || !FLOATING.includes(t.dtype) ? null : t.to(dtype)));
  }

  private mapTensors(fn: (t: Tensor) => Tensor | null): this {
    const done = new Map<Tensor, Tensor>(); // NOTE: a tensor shared by two modules is converted once
    for (const [, m] of this.namedModules())
      for (const k of ['param', 'buffer'] as const)
        for (const [n, t] of m.slots[k]) {
          if (t === null) continue;
          const moved = done.get(t) ?? noGrad(() => fn(t));
          if (moved === null) continue;
          if (!done.has(t)) done.set(t, keep(moved).requiresGrad_(t.requiresGrad));
          m.slots[k].set(n, moved);
        }
    for (const old of done.keys()) old.dispose();
    return this;
  }

  /** Frees every parameter and buffer (the module is unusable afterwards). */
  dispose(): void {
    for (const [, t] of this.namedTensors(['param', 'buffer'])) t.dispose();
  }
}
