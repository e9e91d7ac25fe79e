// Autograd: input gradients (what an attack step needs), grad-mode scopes.
import { native } from './native.js';
import { Tensor } from './tensor.js';

export interface GradOptions {
  /** Seeds for non-scalar outputs (default: ones, i.e. outputs must be scalars). */
  gradOutputs?: readonly Tensor[];
  /** Keep the graph for another backward pass (default false). */
  retainGraph?: boolean;
  /** Build a graph of the gradient itself, for higher-order derivatives (default false). */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of throwing (default false). */
  allowUnused?: boolean;
}

/**
 * d(sum of outputs)/d(inputs), without touching the inputs' `.grad`.
 *
 *     const [g] = grad(model.forward(x).crossEntropy(y, 'sum'), [x]);
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], opts: GradOptions = {}): (Tensor | null)[] {
  const outs = outputs instanceof Tensor ? [outputs] : outputs;
  const create = opts.createGraph ?? false;
  const res = native.grad(
    outs.map((t) => t.handle),
    inputs.map((t) => t.handle),
    opts.gradOutputs ? opts.gradOutputs.map((t) => t.handle) : null,
    opts.retainGraph ?? create,
    create,
    opts.allowUnused ?? false,
  );
  return res.map((h) => (h === null ? null : new Tensor(h)));
}

/** Runs fn with gradient recording switched off (restored afterwards, also on throw). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with gradient recording switched on (e.g. an attack inside a no-grad evaluation). */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

function withGradMode<T>(on: boolean, fn: () => T): T {
  const prev = native.setGradEnabled(on);
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('noGrad/enableGrad: fn must be synchronous');
    return r;
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
