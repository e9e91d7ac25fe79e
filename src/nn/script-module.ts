// A TorchScript module (a torch.jit.save file) as a carso Module: it goes
// wherever a model goes (asModel, every attack, AutoAttack, training loops,
// CARSO). forward runs the scripted forward with autograd recording (attacks
// get input gradients); its parameters and buffers appear under their PyTorch
// names, as handles on the scripted module's own tensors, so an optimiser or
// loadStateDict updates the module in place; train()/eval() and device or dtype
// moves act on the scripted module.
//
//     const net = ScriptModule.load('model.pt').eval();   // torch.jit.save(torch.jit.script(model), 'model.pt')
//     const aa = runAutoAttack(asModel(net), x, y, { norm: 'Linf', eps: 8 / 255, version: 'standard' });
//
// CARSO convention (README, "Bring your model"): a scripted classifier exposes the
// activations CARSO conditions on with two exported methods,
//   forward_taps(x) -> Tuple[Tensor, List[Tensor]]   logits [B, K] and the tapped
//                                                     activations [B, C_i, H_i, W_i], in a fixed order
//   tap_names() -> List[str]                          a name for each, in the same order
// (forward hooks cannot reach inside a scripted graph).
import {
  ScriptObject,
  Tensor,
  dispose,
  noGrad,
  setData,
  tidy,
  type Device,
  type DType,
  type ScriptCallOptions,
  type ScriptValue,
} from '../tensor/index.js';
import { checkTorchScriptArchive } from '../io/torchscript-check.js';
import { FLOATING, Module } from './module.js';
import type { StateDictInput } from './state-dict.js';

/** A submodule of a TorchScript module: holds its tensors under their PyTorch names; it runs inside its root's forward only. */
class ScriptChild extends Module {
  forward(): Tensor {
    throw new Error('a submodule of a TorchScript module cannot be called on its own: call the ScriptModule');
  }
}

export interface ScriptModuleOptions extends ScriptCallOptions {
  /** Where to load the tensors (default: where they were saved). */
  device?: Device;
}

const describe = (v: ScriptValue): string =>
  v instanceof Tensor ? v.toString() : Array.isArray(v) ? `a ${v.length}-element tuple/list` : JSON.stringify(v);

export class ScriptModule extends Module {
  /** Method name -> schema. */
  readonly methods: ReadonlyMap<string, string>;
  private readonly callOptions: ScriptCallOptions;
  private cachedTapNames: string[] | null | undefined;

  constructor(
    readonly script: ScriptObject,
    o: ScriptCallOptions = {},
  ) {
    super();
    this.callOptions = { optimize: o.optimize ?? false };
    this.methods = script.methods();
    if (!this.methods.has('forward')) throw new Error(`${script.path}: the TorchScript module has no forward method`);
    this.mirrorTensors();
    super.train(script.training);
  }

  /**
   * Loads a torch.jit.save file. A TorchScript file is a program: load only files you trust (see
   * README). Its archive structure, pickles and tensor bounds are checked first
   * (checkTorchScriptArchive), so that a damaged file is an Error rather than an abort in libtorch.
   */
  static load(path: string, o: ScriptModuleOptions = {}): ScriptModule {
    checkTorchScriptArchive(path);
    const script = ScriptObject.load(path, o.device);
    try {
      return new ScriptModule(script, o);
    } catch (err) {
      script.dispose();
      throw err;
    }
  }

  /** The file it came from. */
  get path(): string {
    return this.script.path;
  }

  /** The scripted forward: x -> one tensor (for a classifier, logits [B, K]). */
  forward(x: Tensor): Tensor {
    const out = this.callMethod('forward', x);
    if (out instanceof Tensor) return out;
    dispose(out);
    throw new Error(
      `${this.path}: forward returned ${describe(out)}, not a tensor (a classifier maps x [B, C, H, W] to logits [B, K])`,
    );
  }

  /** Calls any method of the scripted module (autograd records through it). */
  callMethod(name: string, ...args: ScriptValue[]): ScriptValue {
    if (!this.methods.has(name))
      throw new Error(`${this.path}: no method '${name}' (it has: ${[...this.methods.keys()].join(', ')})`);
    return this.script.call(name, args, this.callOptions);
  }

  // ---- the CARSO convention ------------------------------------------------------------
  /** The names of the tapped activations (scripted tap_names()), or null when the module does not follow the convention. */
  tapNames(): string[] | null {
    if (this.cachedTapNames === undefined) {
      if (!this.methods.has('forward_taps') || !this.methods.has('tap_names')) return (this.cachedTapNames = null);
      const names = this.callMethod('tap_names');
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
        throw new Error(`${this.path}: tap_names() returned ${describe(names)}, not a list of strings`);
      this.cachedTapNames = [...(names as string[])];
    }
    return this.cachedTapNames === null ? null : [...this.cachedTapNames];
  }

  /** forward_taps(x): the output and each tapped activation, in tap_names() order; the caller's scope owns them. */
  forwardTaps(x: Tensor): { output: Tensor; taps: Tensor[] } {
    const names = this.tapNames();
    if (names === null)
      throw new Error(
        `${this.path}: no CARSO taps: a scripted classifier needs forward_taps(x) and tap_names() (README, "Bring your model")`,
      );
    const r = this.callMethod('forward_taps', x);
    const [output, taps] = Array.isArray(r) ? (r as ScriptValue[]) : [];
    if (
      !(output instanceof Tensor) ||
      !Array.isArray(taps) ||
      !taps.every((t) => t instanceof Tensor) ||
      taps.length !== names.length
    ) {
      dispose(r);
      throw new Error(
        `${this.path}: forward_taps must return (logits, [${names.length} tensors, one per tap_names() entry]), got ${describe(r)}`,
      );
    }
    return { output, taps: taps as Tensor[] };
  }

  // ---- Module: modes, placement, lifetime -----------------------------------------------
  override train(on = true): this {
    this.script.train(on);
    return super.train(on);
  }

  /** Moves the scripted module's tensors in place: the parameter handles follow (optimisers stay valid). */
  override toDevice(device: Device): this {
    this.script.toDevice(device);
    return this;
  }

  /** Converts the floating parameters and buffers in place (integer buffers such as BatchNorm's counter stay). */
  override to(dtype: DType): this {
    noGrad(() => {
      for (const [, t] of this.stateDict())
        if (t.dtype !== dtype && FLOATING.includes(t.dtype)) tidy(() => setData(t, t.to(dtype)));
    });
    return this;
  }

  override withTensors<T>(_replacements: StateDictInput, _fn: () => T): T {
    throw new Error(`${this.path}: withTensors (functional calls) is not supported on TorchScript modules`);
  }

  /** Frees the parameter handles and the scripted module. */
  override dispose(): void {
    super.dispose();
    this.script.dispose();
  }

  /** Registers every scripted parameter and buffer under its dotted name, creating ScriptChild holders on the way. */
  private mirrorTensors(): void {
    for (const kind of ['parameters', 'buffers'] as const)
      for (const [name, t] of this.script.namedTensors(kind)) {
        const parts = name.split('.');
        const leaf = parts.pop()!;
        const owner = parts.reduce<Module>(
          (m, p) => m.namedChildren().find(([n]) => n === p)?.[1] ?? m.addModule(p, new ScriptChild()),
          this,
        );
        if (kind === 'parameters') owner.registerParameter(leaf, t);
        else owner.registerBuffer(leaf, t);
      }
  }
}
