// Tensor creation. Random functions draw from libtorch's default generator:
// seed it with `manualSeed` for reproducible runs (same stream as PyTorch's
// torch.manual_seed on CPU).
import { native } from './native.js';
import { op, Tensor, type Device, type DType } from './tensor.js';

const C = {
  zeros: op('zeros'),
  ones: op('ones'),
  full: op('full'),
  empty: op('empty', 'memory_format'),
  arange: op('arange', 'start_step'),
  rand: op('rand'),
  randn: op('randn'),
  randint: op('randint', 'low'),
  randperm: op('randperm'),
  eye: op('eye'),
  zerosLike: op('zeros_like'),
  onesLike: op('ones_like'),
  randLike: op('rand_like'),
  randnLike: op('randn_like'),
  fullLike: op('full_like'),
  bernoulli: op('bernoulli', 'p'),
  cat: op('cat'),
  stack: op('stack'),
  where: op('where', 'self'),
  linspace: op('linspace'),
};

type TypedData = Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array | Int8Array | Int16Array;
const TYPED: Partial<Record<DType, (n: number[] | ArrayLike<number>) => TypedData>> = {
  float32: (v) => Float32Array.from(v),
  float64: (v) => Float64Array.from(v),
  int32: (v) => Int32Array.from(v),
  int16: (v) => Int16Array.from(v),
  int8: (v) => Int8Array.from(v),
  uint8: (v) => Uint8Array.from(v),
  bool: (v) => Uint8Array.from(v, (x) => (x ? 1 : 0)),
  int64: (v) => BigInt64Array.from(Array.from(v), (x) => BigInt(Math.trunc(x))),
};

/**
 * A tensor from JS data (copied). `data` may be a typed array or a number array;
 * `shape` defaults to 1-D.
 *
 *     const y = tensor([3, 1, 4], [3], 'int64');
 */
export function tensor(
  data: ArrayLike<number> | TypedData,
  shape?: readonly number[],
  dtype: DType = 'float32',
  device?: Device,
): Tensor {
  const dims = shape ?? [data.length];
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`tensor: ${data.length} values do not fill shape [${dims.join(', ')}] (${n} elements)`);
  const make = TYPED[dtype];
  if (make === undefined) throw new Error(`tensor: cannot build a ${dtype} tensor from JS data`);
  const typed = sameKind(data, dtype) ? (data as TypedData) : make(data as ArrayLike<number>);
  return new Tensor(native.fromArray(typed, dims, dtype, device));
}

function sameKind(data: unknown, dtype: DType): boolean {
  return (
    (dtype === 'float32' && data instanceof Float32Array) ||
    (dtype === 'float64' && data instanceof Float64Array) ||
    (dtype === 'int64' && data instanceof BigInt64Array) ||
    (dtype === 'int32' && data instanceof Int32Array) ||
    (dtype === 'uint8' && data instanceof Uint8Array)
  );
}

/** A 0-dim tensor. */
export function scalar(v: number, dtype: DType = 'float32'): Tensor {
  return tensor([v], [], dtype);
}

export const zeros = (shape: readonly number[], dtype: DType = 'float32', device?: Device): Tensor =>
  C.zeros.t(shape, dtype, null, device);
export const ones = (shape: readonly number[], dtype: DType = 'float32', device?: Device): Tensor =>
  C.ones.t(shape, dtype, null, device);
export const full = (shape: readonly number[], value: number, dtype: DType = 'float32', device?: Device): Tensor =>
  C.full.t(shape, value, dtype, null, device);
export const empty = (shape: readonly number[], dtype: DType = 'float32', device?: Device): Tensor =>
  C.empty.t(shape, dtype, null, device);
/** start, start+step, ... < end */
export const arange = (start: number, end: number, step = 1, dtype: DType = 'int64', device?: Device): Tensor =>
  C.arange.t(start, end, step, dtype, null, device);
export const linspace = (start: number, end: number, steps: number, dtype: DType = 'float32'): Tensor =>
  C.linspace.t(start, end, steps, dtype);
export const eye = (n: number, dtype: DType = 'float32'): Tensor => C.eye.t(n, dtype);
/** U[0, 1) */
export const rand = (shape: readonly number[], dtype: DType = 'float32', device?: Device): Tensor =>
  C.rand.t(shape, dtype, null, device);
/** N(0, 1) */
export const randn = (shape: readonly number[], dtype: DType = 'float32', device?: Device): Tensor =>
  C.randn.t(shape, dtype, null, device);
/** integers in [low, high) */
export const randint = (low: number, high: number, shape: readonly number[], dtype: DType = 'int64', device?: Device): Tensor =>
  C.randint.t(low, high, shape, dtype, null, device);
export const randperm = (n: number, dtype: DType = 'int64'): Tensor => C.randperm.t(n, dtype);
export const zerosLike = (t: Tensor): Tensor => C.zerosLike.t(t);
export const onesLike = (t: Tensor): Tensor => C.onesLike.t(t);
export const fullLike = (t: Tensor, v: number): Tensor => C.fullLike.t(t, v);
export const randLike = (t: Tensor): Tensor => C.randLike.t(t);
export const randnLike = (t: Tensor): Tensor => C.randnLike.t(t);
/** Bernoulli(p) samples with the shape and dtype of t. */
export const bernoulli = (t: Tensor, p: number): Tensor => C.bernoulli.t(t, p);
export const cat = (ts: readonly Tensor[], dim = 0): Tensor => C.cat.t(ts, dim);
export const stack = (ts: readonly Tensor[], dim = 0): Tensor => C.stack.t(ts, dim);
/** cond ? a : b, elementwise with broadcasting. */
export const where = (cond: Tensor, a: Tensor, b: Tensor): Tensor => C.where.t(cond, a, b);
