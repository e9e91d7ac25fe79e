// TorchScript modules (torch.jit.save files) at the tensor level: load one, call
// its methods with tensors, numbers, strings, lists and tuples (autograd records
// through them), reach its parameters and buffers. src/nn/script-module.ts makes
// one a carso Module.
import { native, type Handle, type ScriptHandle, type ScriptNative } from './native.js';
import { Tensor, type Device } from './tensor.js';

/** A method's argument or result: tensors, numbers, booleans, strings, None (null), lists and tuples (arrays). */
export type ScriptValue = Tensor | number | boolean | string | null | readonly ScriptValue[];

const toNative = (v: ScriptValue): ScriptNative =>
  v instanceof Tensor ? v.handle : Array.isArray(v) ? (v as readonly ScriptValue[]).map(toNative) : (v as ScriptNative);

function fromNative(v: ScriptNative): ScriptValue {
  if (Array.isArray(v)) return (v as readonly ScriptNative[]).map(fromNative);
  if (v !== null && typeof v === 'object') return new Tensor(v as Handle);
  return v as ScriptValue;
}

export interface ScriptCallOptions {
  /**
   * The graph executor's optimisations (profiling, fusion, symbolic differentiation).
   * NOTE: off by default, so a scripted model runs the same ATen kernels and
   * autograd formulas as the same model written with carso's layers (bitwise equal
   * logits and input gradients, hence identical attack trajectories); on, libtorch
   * specialises the graph after two profiling runs, which pays off on GPU.
   */
  optimize?: boolean;
}

export class ScriptObject {
  private constructor(
    private readonly handle: ScriptHandle,
    /** The file it was loaded from (named in errors). */
    readonly path: string,
  ) {}

  /** Loads a torch.jit.save file, its tensors on `device` (default: where they were saved). */
  static load(path: string, device?: Device): ScriptObject {
    return new ScriptObject(native.jitLoad(path, device ?? null), path);
  }

  /** Method name -> schema, e.g. 'forward' -> 'forward(__torch__.Net self, Tensor x) -> Tensor'. */
  methods(): Map<string, string> {
    return new Map(native.jitMethods(this.handle));
  }

  /** Calls a method; result tensors belong to the current tidy scope. Errors name the file, method and arguments. */
  call(method: string, args: readonly ScriptValue[] = [], o: ScriptCallOptions = {}): ScriptValue {
    try {
      return fromNative(native.jitCall(this.handle, method, args.map(toNative), o.optimize ?? false));
    } catch (err) {
      throw new Error(`${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Parameters or buffers by dotted name, as new handles on the module's own tensors (in-place
   * updates reach it); a tensor under several names (tied weights) is one Tensor.
   */
  namedTensors(kind: 'parameters' | 'buffers'): [string, Tensor][] {
    const tensors = new Map<Handle, Tensor>(); // a tied tensor: one handle, so one Tensor, for all its names
    return native.jitTensors(this.handle, kind).map(([name, h]) => {
      if (!tensors.has(h)) tensors.set(h, new Tensor(h));
      return [name, tensors.get(h)!];
    });
  }

  get training(): boolean {
    return native.jitIsTraining(this.handle);
  }

  train(on: boolean): void {
    native.jitTrain(this.handle, on);
  }

  /** Moves every parameter and buffer to `device` in place (existing handles on them follow). */
  toDevice(device: Device): void {
    native.jitTo(this.handle, device);
  }

  /** Releases the module now (handles on its tensors stay valid until freed). */
  dispose(): void {
    native.jitFree(this.handle);
  }
}

/**
 * Gives `target` the data of `source` in place (torch's Variable.set_data): the same
 * tensor, as every holder sees it (a scripted module's slots, other handles), now
 * with source's dtype, device and values. For moving a module's tensors without
 * replacing them.
 */
export function setData(target: Tensor, source: Tensor): void {
  native.setData(target.handle, source.handle);
}
