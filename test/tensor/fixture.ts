// Reads the PyTorch reference fixtures written by test/fixtures/gen_tensor.py
// (regenerate with `/usr/bin/python3 test/fixtures/gen_tensor.py`).
import { readFileSync } from 'node:fs';
import { tensor, type DType, type Tensor } from '../../src/tensor/index.js';

/** One tensor as stored: row-major data, bools as 0/1, int64 as (exact) JS numbers. */
export interface FixtureTensor {
  dtype: DType;
  shape: number[];
  data: number[];
}

export interface FixtureInput extends FixtureTensor {
  name: string;
  /** Whether the reference differentiated with respect to this input. */
  grad: boolean;
}

/** One op case: inputs, outputs, and the gradients of sum(outputs[0] * weight). */
export interface OpCase {
  inputs: FixtureInput[];
  outputs: FixtureTensor[];
  /** null when outputs[0] is not differentiable (indices, comparisons). */
  weight: FixtureTensor | null;
  grads: Record<string, FixtureTensor>;
  /** Values after the call of inputs the op updates in place (batch-norm running statistics). */
  after: Record<string, FixtureTensor>;
}

const DIR = new URL('../fixtures/tensor/', import.meta.url);

/** A fixture file as a name -> entry map, without its `_meta` entry. */
export function loadFixture<T>(file: string): Map<string, T> {
  const obj = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Record<string, T>;
  return new Map(Object.entries(obj).filter(([k]) => k !== '_meta'));
}

/** A new carso tensor holding a fixture tensor's values. */
export function fromFixture(t: FixtureTensor): Tensor {
  return tensor(t.data, t.shape, t.dtype);
}
