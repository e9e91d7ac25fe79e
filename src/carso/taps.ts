// Representation taps (carso.md 2.1; ebtorch's gather_model_repr): forward hooks
// on named modules of a classifier that collect their outputs, in execution
// order, during one forward. The tensors keep their autograd graph, so the
// defence stays differentiable end to end (section 6); run the capture under
// noGrad when no gradient is wanted (purifier training).
//
//     const taps = new Taps(wrn, wrn.carsoTapNames()); // the 26 convs of carso.md 2.1
//     const { output, taps: reps } = tidy(() => taps.capture(x)); // reps[i]: [B, C_i, H_i, W_i]
//     taps.remove();
//
// A classifier whose insides hooks cannot reach (a TorchScript module) reports its
// taps itself instead (TapSource: ScriptModule's forward_taps / tap_names convention);
// the names then select among the ones it reports.
import { dispose, keep, type Tensor } from '../tensor/index.js';
import type { Module } from '../nn/index.js';

/** A classifier that returns its own tapped activations (src/nn/script-module.ts). */
export interface TapSource {
  /** The names of the activations forwardTaps returns, in order; null when it has none. */
  tapNames(): string[] | null;
  forwardTaps(x: Tensor): { output: Tensor; taps: Tensor[] };
}

const isTapSource = (m: Module): m is Module & TapSource => typeof (m as Partial<TapSource>).forwardTaps === 'function';

/** A new handle on the same tensor (same storage and autograd graph), owned by the current scope. */
const alias = (t: Tensor): Tensor => t.view(...t.shape);

export interface Capture {
  /** The model's own output on x. */
  output: Tensor;
  /** Each tapped module's output, in the order the modules fired. */
  taps: Tensor[];
  /** The module name of each entry of `taps`. */
  order: string[];
}

export class Taps {
  private readonly removers: (() => void)[];
  /** Outputs recorded by the hooks during a capture; null between captures (the hooks do nothing then). */
  private recording: { tensor: Tensor; name: string }[] | null = null;

  /** Hooks the modules `names` (dotted, as namedModules) of `model`; throws listing the unknown ones. */
  constructor(
    readonly model: Module,
    readonly names: readonly string[],
  ) {
    if (new Set(names).size !== names.length) throw new Error('Taps: a module is named twice');
    if (isTapSource(model)) {
      const reported = model.tapNames();
      if (reported === null) throw new Error(`Taps: ${model.constructor.name} reports no taps (no forward_taps / tap_names)`);
      const unknown = names.filter((n) => !reported.includes(n));
      if (unknown.length > 0)
        throw new Error(
          `Taps: ${model.constructor.name} has no tap(s) ${unknown.join(', ')} (it reports: ${reported.join(', ')})`,
        );
      this.removers = [];
      return;
    }
    const modules = new Map(model.namedModules());
    const unknown = names.filter((n) => n === '' || !modules.has(n));
    if (unknown.length > 0) throw new Error(`Taps: ${model.constructor.name} has no module(s) ${unknown.join(', ')}`);
    this.removers = names.map((name) =>
      modules.get(name)!.registerForwardHook((_m, _input, out) => {
        // NOTE: containers run children inside tidy, which frees `out` when the child returns; we keep
        // an alias of it (same storage, same graph), never `out` itself, which may be the caller's tensor.
        this.recording?.push({ tensor: keep(alias(out)), name });
      }),
    );
  }

  /**
   * model.call(x) with the tapped outputs collected. Every returned tensor
   * belongs to the caller's scope; throws if a tapped module did not fire.
   */
  capture(x: Tensor): Capture {
    if (isTapSource(this.model)) return this.captureReported(this.model, x);
    if (this.recording !== null) throw new Error('Taps.capture: already capturing (captures do not nest)');
    const recorded: { tensor: Tensor; name: string }[] = [];
    this.recording = recorded;
    let output: Tensor;
    try {
      output = this.model.call(x);
    } catch (err) {
      dispose(recorded.map((r) => r.tensor));
      throw err;
    } finally {
      this.recording = null;
    }
    // The kept aliases belong to no scope; fresh aliases in the caller's scope replace them.
    const taps = recorded.map((r) => alias(r.tensor));
    dispose(recorded.map((r) => r.tensor));
    const order = recorded.map((r) => r.name);
    const silent = this.names.filter((n) => !order.includes(n));
    if (silent.length > 0) {
      dispose([output, taps]);
      throw new Error(`Taps.capture: module(s) ${silent.join(', ')} did not run in ${this.model.constructor.name}'s forward`);
    }
    return { output, taps, order };
  }

  /** capture for a TapSource: its reported taps, those named, in the order named. */
  private captureReported(source: TapSource, x: Tensor): Capture {
    const all = source.tapNames() ?? [];
    const { output, taps } = source.forwardTaps(x);
    return { output, taps: this.names.map((n) => taps[all.indexOf(n)]!), order: [...this.names] };
  }

  /** Detaches every hook (the model is left as it was). */
  remove(): void {
    for (const r of this.removers) r();
    this.removers.length = 0;
  }
}
