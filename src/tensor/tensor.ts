// The Tensor class: typed methods over the generic native operator call.
//
// Every method is one line naming an ATen operator (see `op` below); the
// argument order is the operator's schema order, and the native layer
// converts each argument by the schema's declared type. Shapes in comments
// are NCHW: x: [B, C, H, W].
import { native, type Handle, type NativeArg, type NativeResult } from './native.js';
import { track, type Disposable } from './scope.js';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export type Device = string; // 'cpu', 'cuda', 'cuda:1'
export type Reduction = 'none' | 'mean' | 'sum';
export type Arg = Tensor | number | boolean | string | null | undefined | readonly number[] | readonly (Tensor | null)[];

const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function toNative(a: Arg): NativeArg {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map((v: unknown) => (v instanceof Tensor ? v.handle : v)) as NativeArg;
  return a as NativeArg;
}

function fromNative(r: NativeResult, args: readonly Arg[]): Tensor | number | boolean | null | undefined | unknown[] {
  if (Array.isArray(r)) return r.map((v) => fromNative(v, args));
  if (r !== null && typeof r === 'object') {
    // In-place operators hand back their input's own handle: return its Tensor.
    for (const a of args) if (a instanceof Tensor && a.handle === r) return a;
    return new Tensor(r);
  }
  return r;
}

/** An argument as error messages show it: `Tensor[2, 3] float32`, `[1, 2]`, `'mean'`. */
function describeArg(a: Arg): string {
  if (a instanceof Tensor) return a.isDisposed ? 'Tensor(freed)' : a.toString();
  if (Array.isArray(a)) return `[${a.map((v: Arg) => describeArg(v)).join(', ')}]`;
  return typeof a === 'string' ? `'${a}'` : String(a ?? 'None');
}

/** A cached handle to one ATen operator: `op('aten::add', 'Tensor').t(a, b, 1)`. */
export class Op {
  private id = -1;
  constructor(
    readonly name: string,
    readonly overload = '',
  ) {}

  private resolve(args: readonly Arg[] = []): number {
    if (this.id < 0) {
      try {
        this.id = native.opId(this.name.includes('::') ? this.name : `aten::${this.name}`, this.overload);
      } catch (err) {
        // NOTE: the lookup knows no arguments; name them as the native call errors do.
        throw new Error(`${(err as Error).message}; called with (${args.map(describeArg).join(', ')})`);
      }
    }
    return this.id;
  }

  /** Calls the operator; results converted (tensors wrapped, in-place results mapped to their input). */
  call(...args: Arg[]): Tensor | number | boolean | null | undefined | unknown[] {
    return fromNative(native.call(this.resolve(args), args.map(toNative)), args);
  }

  /** Calls an operator that returns one tensor. */
  t(...args: Arg[]): Tensor {
    return this.call(...args) as Tensor;
  }

  /** Calls an operator that returns several tensors (a tuple or a list). */
  ts(...args: Arg[]): Tensor[] {
    return this.call(...args) as Tensor[];
  }

  /** The operator's schema, e.g. for error messages and docs. */
  schema(): string {
    return native.opSchema(this.resolve());
  }
}

export function op(name: string, overload = ''): Op {
  return new Op(name, overload);
}

// One Op per ATen overload the project uses (ids resolved lazily, once).
const A = {
  add: op('add', 'Tensor'),
  addS: op('add', 'Scalar'),
  sub: op('sub', 'Tensor'),
  subS: op('sub', 'Scalar'),
  mul: op('mul', 'Tensor'),
  mulS: op('mul', 'Scalar'),
  div: op('div', 'Tensor'),
  divS: op('div', 'Scalar'),
  rsubS: op('rsub', 'Scalar'),
  powS: op('pow', 'Tensor_Scalar'),
  pow: op('pow', 'Tensor_Tensor'),
  add_: op('add_', 'Tensor'),
  mul_: op('mul_', 'Tensor'),
  mulS_: op('mul_', 'Scalar'),
  addS_: op('add_', 'Scalar'),
  addcmul_: op('addcmul_'),
  addcdiv_: op('addcdiv_'),
  copy_: op('copy_'),
  zero_: op('zero_'),
  fill_: op('fill_', 'Scalar'),
  clampMin_: op('clamp_min_'),
  lerp_: op('lerp_', 'Scalar'),
  sqrt_: op('sqrt_'),
  div_: op('div_', 'Tensor'),
  neg: op('neg'),
  exp: op('exp'),
  log: op('log'),
  log1p: op('log1p'),
  sqrt: op('sqrt'),
  rsqrt: op('rsqrt'),
  abs: op('abs'),
  sign: op('sign'),
  floor: op('floor'),
  ceil: op('ceil'),
  round: op('round'),
  reciprocal: op('reciprocal'),
  square: op('square'),
  tanh: op('tanh'),
  sin: op('sin'),
  cos: op('cos'),
  minimum: op('minimum'),
  maximum: op('maximum'),
  clamp: op('clamp'),
  clampT: op('clamp', 'Tensor'),
  eq: op('eq', 'Tensor'),
  eqS: op('eq', 'Scalar'),
  ne: op('ne', 'Tensor'),
  neS: op('ne', 'Scalar'),
  lt: op('lt', 'Tensor'),
  ltS: op('lt', 'Scalar'),
  le: op('le', 'Tensor'),
  leS: op('le', 'Scalar'),
  gt: op('gt', 'Tensor'),
  gtS: op('gt', 'Scalar'),
  ge: op('ge', 'Tensor'),
  geS: op('ge', 'Scalar'),
  logicalAnd: op('logical_and'),
  logicalOr: op('logical_or'),
  logicalNot: op('logical_not'),
  where: op('where', 'self'),
  isnan: op('isnan'),
  isfinite: op('isfinite'),
  sum: op('sum'),
  sumDim: op('sum', 'dim_IntList'),
  mean: op('mean'),
  meanDim: op('mean', 'dim'),
  amax: op('amax'),
  amin: op('amin'),
  maxDim: op('max', 'dim'),
  minDim: op('min', 'dim'),
  max: op('max'),
  min: op('min'),
  argmax: op('argmax'),
  argmin: op('argmin'),
  topk: op('topk'),
  sort: op('sort'),
  prod: op('prod'),
  all: op('all'),
  any: op('any'),
  var: op('var', 'correction'),
  vnorm: op('linalg_vector_norm'),
  logsumexp: op('logsumexp'),
  cumsum: op('cumsum'),
  view: op('view'),
  reshape: op('reshape'),
  permute: op('permute'),
  transpose: op('transpose', 'int'),
  contiguous: op('contiguous'),
  clone: op('clone'),
  detach: op('detach'),
  expand: op('expand'),
  squeeze: op('squeeze', 'dim'),
  unsqueeze: op('unsqueeze'),
  flatten: op('flatten', 'using_ints'),
  cat: op('cat'),
  stack: op('stack'),
  slice: op('slice', 'Tensor'),
  narrow: op('narrow'),
  select: op('select', 'int'),
  indexSelect: op('index_select'),
  gather: op('gather'),
  scatter: op('scatter', 'src'),
  index: op('index', 'Tensor'),
  maskedFill: op('masked_fill', 'Scalar'),
  repeat: op('repeat'),
  flip: op('flip'),
  roll: op('roll'),
  to: op('to', 'dtype'),
  toDevice: op('to', 'device'),
  pad: op('constant_pad_nd'),
  oneHot: op('one_hot'),
  matmul: op('matmul'),
  linear: op('linear'),
  conv2d: op('conv2d'),
  convT2d: op('conv_transpose2d', 'input'),
  maxPool2d: op('max_pool2d'),
  avgPool2d: op('avg_pool2d'),
  adaptiveAvgPool2d: op('adaptive_avg_pool2d'),
  adaptiveMaxPool2d: op('adaptive_max_pool2d'),
  batchNorm: op('batch_norm'),
  dropout: op('dropout'),
  relu: op('relu'),
  leakyRelu: op('leaky_relu'),
  silu: op('silu'),
  sigmoid: op('sigmoid'),
  softplus: op('softplus'),
  gelu: op('gelu'),
  softmax: op('softmax', 'int'),
  logSoftmax: op('log_softmax', 'int'),
  crossEntropy: op('cross_entropy_loss'),
  nllLoss: op('nll_loss'),
  bce: op('binary_cross_entropy'),
  bceLogits: op('binary_cross_entropy_with_logits'),
  mse: op('mse_loss'),
  klDiv: op('kl_div'),
};

/**
 * A handle to one libtorch tensor. Tensors at public boundaries are NCHW
 * float32 images in [0, 1]. Free with `dispose()` or create inside `tidy()`.
 */
export class Tensor implements Disposable {
  private cachedShape: readonly number[] | undefined;

  /** Wraps a native handle (internal: use the creation functions). */
  constructor(readonly handle: Handle) {
    track(this);
  }

  // ---- metadata -------------------------------------------------------------
  get shape(): readonly number[] {
    // NOTE: shapes never change for a given handle except via resize_/set_, which we never call.
    return (this.cachedShape ??= native.shape(this.handle));
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return native.dtype(this.handle) as DType;
  }
  get device(): Device {
    return native.device(this.handle);
  }
  get isDisposed(): boolean {
    return native.isFreed(this.handle);
  }
  size(dim: number): number {
    const d = dim < 0 ? this.ndim + dim : dim;
    const s = this.shape[d];
    if (s === undefined) throw new Error(`size(${dim}): tensor has ${this.ndim} dims (shape [${this.shape.join(', ')}])`);
    return s;
  }
  dispose(): void {
    native.free(this.handle);
  }
  toString(): string {
    return `Tensor[${this.shape.join(', ')}] ${this.dtype}`;
  }

  // ---- data out -------------------------------------------------------------
  /** A copy of the elements as float32 (converting the dtype when needed). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return new Float32Array(native.toArray(this.handle));
    const t = A.to.t(this, 'float32');
    try {
      return new Float32Array(native.toArray(t.handle));
    } finally {
      t.dispose();
    }
  }
  toFloat64Array(): Float64Array {
    const t = this.dtype === 'float64' ? this : A.to.t(this, 'float64');
    try {
      return new Float64Array(native.toArray(t.handle));
    } finally {
      if (t !== this) t.dispose();
    }
  }
  /** The raw bytes of the (contiguous copy of the) tensor in its own dtype. */
  toBytes(): Uint8Array {
    return new Uint8Array(native.toArray(this.handle));
  }
  /** Elements as JS numbers (int64 converted through float64: exact below 2^53). */
  toArray(): number[] {
    return Array.from(this.toFloat64Array());
  }
  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new Error(`item(): tensor has ${this.numel} elements (shape [${this.shape.join(', ')}])`);
    return this.toFloat64Array()[0] as number;
  }

  // ---- autograd -------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** Marks a leaf as requiring gradients (in place; returns this). */
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.handle, on);
    return this;
  }
  /** The gradient accumulated by `backward()`, or null. A new handle: dispose it or use tidy. */
  get grad(): Tensor | null {
    const g = native.gradOf(this.handle);
    return g === null ? null : new Tensor(g);
  }
  /** Replaces (or with null clears) the accumulated gradient. */
  setGrad(g: Tensor | null): void {
    native.setGrad(this.handle, g === null ? null : g.handle);
  }
  /** Backpropagates from this (scalar, unless gradOutput given) into the leaves' `.grad`. */
  backward(gradOutput?: Tensor, retainGraph = false): void {
    native.backward([this.handle], gradOutput ? [gradOutput.handle] : null, retainGraph);
  }
  detach(): Tensor {
    return A.detach.t(this);
  }

  // ---- conversion -----------------------------------------------------------
  to(dtype: DType): Tensor {
    return A.to.t(this, dtype);
  }
  toDevice(device: Device): Tensor {
    return A.toDevice.t(this, device, this.dtype);
  }
  float(): Tensor {
    return A.to.t(this, 'float32');
  }
  double(): Tensor {
    return A.to.t(this, 'float64');
  }
  long(): Tensor {
    return A.to.t(this, 'int64');
  }
  clone(): Tensor {
    return A.clone.t(this);
  }
  contiguous(): Tensor {
    return A.contiguous.t(this);
  }

  // ---- elementwise arithmetic (tensor or scalar operand, broadcasting) --------
  add(o: Tensor | number, alpha = 1): Tensor {
    return o instanceof Tensor ? A.add.t(this, o, alpha) : A.addS.t(this, o, alpha);
  }
  sub(o: Tensor | number, alpha = 1): Tensor {
    return o instanceof Tensor ? A.sub.t(this, o, alpha) : A.subS.t(this, o, alpha);
  }
  mul(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.mul.t(this, o) : A.mulS.t(this, o);
  }
  div(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.div.t(this, o) : A.divS.t(this, o);
  }
  /** s - this */
  rsub(s: number): Tensor {
    return A.rsubS.t(this, s);
  }
  pow(e: Tensor | number): Tensor {
    return e instanceof Tensor ? A.pow.t(this, e) : A.powS.t(this, e);
  }
  neg(): Tensor {
    return A.neg.t(this);
  }
  exp(): Tensor {
    return A.exp.t(this);
  }
  log(): Tensor {
    return A.log.t(this);
  }
  log1p(): Tensor {
    return A.log1p.t(this);
  }
  sqrt(): Tensor {
    return A.sqrt.t(this);
  }
  rsqrt(): Tensor {
    return A.rsqrt.t(this);
  }
  square(): Tensor {
    return A.square.t(this);
  }
  reciprocal(): Tensor {
    return A.reciprocal.t(this);
  }
  abs(): Tensor {
    return A.abs.t(this);
  }
  /** sign(0) = 0, as torch.sign. */
  sign(): Tensor {
    return A.sign.t(this);
  }
  floor(): Tensor {
    return A.floor.t(this);
  }
  ceil(): Tensor {
    return A.ceil.t(this);
  }
  round(): Tensor {
    return A.round.t(this);
  }
  tanh(): Tensor {
    return A.tanh.t(this);
  }
  sin(): Tensor {
    return A.sin.t(this);
  }
  cos(): Tensor {
    return A.cos.t(this);
  }
  minimum(o: Tensor): Tensor {
    return A.minimum.t(this, o);
  }
  maximum(o: Tensor): Tensor {
    return A.maximum.t(this, o);
  }
  /** Clamp to [lo, hi]; bounds may be numbers or broadcastable tensors (null = unbounded). */
  clamp(lo: Tensor | number | null, hi: Tensor | number | null = null): Tensor {
    if (lo instanceof Tensor || hi instanceof Tensor) {
      if (typeof lo === 'number' || typeof hi === 'number')
        throw new Error('clamp: give both bounds as tensors or both as numbers');
      return A.clampT.t(this, lo, hi);
    }
    return A.clamp.t(this, lo, hi);
  }

  // ---- in-place (optimisers, running statistics); return this ----------------
  add_(o: Tensor | number, alpha = 1): this {
    if (o instanceof Tensor) A.add_.call(this, o, alpha);
    else A.addS_.call(this, o, alpha);
    return this;
  }
  mul_(o: Tensor | number): this {
    if (o instanceof Tensor) A.mul_.call(this, o);
    else A.mulS_.call(this, o);
    return this;
  }
  div_(o: Tensor): this {
    A.div_.call(this, o);
    return this;
  }
  /** this += value * a * b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    A.addcmul_.call(this, a, b, value);
    return this;
  }
  /** this += value * a / b */
  addcdiv_(a: Tensor, b: Tensor, value = 1): this {
    A.addcdiv_.call(this, a, b, value);
    return this;
  }
  /** this += w * (end - this) */
  lerp_(end: Tensor, w: number): this {
    A.lerp_.call(this, end, w);
    return this;
  }
  sqrt_(): this {
    A.sqrt_.call(this);
    return this;
  }
  clampMin_(lo: number): this {
    A.clampMin_.call(this, lo);
    return this;
  }
  copy_(src: Tensor): this {
    A.copy_.call(this, src, false);
    return this;
  }
  zero_(): this {
    A.zero_.call(this);
    return this;
  }
  fill_(v: number): this {
    A.fill_.call(this, v);
    return this;
  }

  // ---- comparisons and selection (results are bool tensors) -----------------
  eq(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.eq.t(this, o) : A.eqS.t(this, o);
  }
  ne(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.ne.t(this, o) : A.neS.t(this, o);
  }
  lt(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.lt.t(this, o) : A.ltS.t(this, o);
  }
  le(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.le.t(this, o) : A.leS.t(this, o);
  }
  gt(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.gt.t(this, o) : A.gtS.t(this, o);
  }
  ge(o: Tensor | number): Tensor {
    return o instanceof Tensor ? A.ge.t(this, o) : A.geS.t(this, o);
  }
  logicalAnd(o: Tensor): Tensor {
    return A.logicalAnd.t(this, o);
  }
  logicalOr(o: Tensor): Tensor {
    return A.logicalOr.t(this, o);
  }
  logicalNot(): Tensor {
    return A.logicalNot.t(this);
  }
  isnan(): Tensor {
    return A.isnan.t(this);
  }
  isfinite(): Tensor {
    return A.isfinite.t(this);
  }
  /** Elementwise: cond ? this : other. */
  where(cond: Tensor, other: Tensor): Tensor {
    return A.where.t(cond, this, other);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return A.maskedFill.t(this, mask, value);
  }

  // ---- reductions -------------------------------------------------------------
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return dim === undefined ? A.sum.t(this) : A.sumDim.t(this, typeof dim === 'number' ? [dim] : dim, keepdim);
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return dim === undefined ? A.mean.t(this) : A.meanDim.t(this, typeof dim === 'number' ? [dim] : dim, keepdim);
  }
  /** Unbiased (correction 1) variance over `dim`, as torch.var. */
  var(dim: number | readonly number[], keepdim = false, correction = 1): Tensor {
    return A.var.t(this, typeof dim === 'number' ? [dim] : dim, correction, keepdim);
  }
  prod(): Tensor {
    return A.prod.t(this);
  }
  /** Max over all elements, or per `dim` (values only; see maxWithIndices). */
  max(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? A.max.t(this) : A.amax.t(this, [dim], keepdim);
  }
  min(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? A.min.t(this) : A.amin.t(this, [dim], keepdim);
  }
  /** [values, indices] of the max along `dim` (first index on ties). */
  maxWithIndices(dim: number, keepdim = false): [Tensor, Tensor] {
    return A.maxDim.ts(this, dim, keepdim) as [Tensor, Tensor];
  }
  minWithIndices(dim: number, keepdim = false): [Tensor, Tensor] {
    return A.minDim.ts(this, dim, keepdim) as [Tensor, Tensor];
  }
  amax(dims: readonly number[], keepdim = false): Tensor {
    return A.amax.t(this, dims, keepdim);
  }
  amin(dims: readonly number[], keepdim = false): Tensor {
    return A.amin.t(this, dims, keepdim);
  }
  argmax(dim: number, keepdim = false): Tensor {
    return A.argmax.t(this, dim, keepdim);
  }
  argmin(dim: number, keepdim = false): Tensor {
    return A.argmin.t(this, dim, keepdim);
  }
  /** [values, indices] of the k largest (or smallest) along `dim`. */
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return A.topk.ts(this, k, dim, largest, sorted) as [Tensor, Tensor];
  }
  /** [values, indices], ascending unless `descending`. */
  sort(dim = -1, descending = false): [Tensor, Tensor] {
    return A.sort.ts(this, dim, descending) as [Tensor, Tensor];
  }
  all(): Tensor {
    return A.all.t(this);
  }
  any(): Tensor {
    return A.any.t(this);
  }
  cumsum(dim: number): Tensor {
    return A.cumsum.t(this, dim);
  }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor {
    return A.logsumexp.t(this, typeof dim === 'number' ? [dim] : dim, keepdim);
  }
  /** p-norm over `dim` (all elements when omitted); p = Infinity for the max-norm. */
  norm(p: number, dim?: readonly number[], keepdim = false): Tensor {
    return A.vnorm.t(this, p, dim ?? null, keepdim);
  }

  // ---- shape ----------------------------------------------------------------
  view(...shape: number[]): Tensor {
    return A.view.t(this, shape);
  }
  reshape(...shape: number[]): Tensor {
    return A.reshape.t(this, shape);
  }
  permute(...dims: number[]): Tensor {
    return A.permute.t(this, dims);
  }
  transpose(d0: number, d1: number): Tensor {
    return A.transpose.t(this, d0, d1);
  }
  /** Flattens dims start..end into one (default: everything after the batch dim). */
  flatten(start = 1, end = -1): Tensor {
    return A.flatten.t(this, start, end);
  }
  squeeze(dim: number): Tensor {
    return A.squeeze.t(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return A.unsqueeze.t(this, dim);
  }
  expand(...shape: number[]): Tensor {
    return A.expand.t(this, shape, false);
  }
  repeat(...times: number[]): Tensor {
    return A.repeat.t(this, times);
  }
  flip(dims: readonly number[]): Tensor {
    return A.flip.t(this, dims);
  }
  roll(shifts: readonly number[], dims: readonly number[]): Tensor {
    return A.roll.t(this, shifts, dims);
  }
  /** Elements start..end (exclusive) with `step` along `dim`, as x[..., start:end:step]. */
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return A.slice.t(this, dim, start, end, step);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return A.narrow.t(this, dim, start, length);
  }
  /** x[..., i, ...] along `dim` (the dim disappears). */
  select(dim: number, i: number): Tensor {
    return A.select.t(this, dim, i);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return A.indexSelect.t(this, dim, index);
  }
  gather(dim: number, index: Tensor): Tensor {
    return A.gather.t(this, dim, index, false);
  }
  scatter(dim: number, index: Tensor, src: Tensor): Tensor {
    return A.scatter.t(this, dim, index, src);
  }
  /** Advanced indexing x[idx] along dim 0 with a bool mask or an int64 index tensor. */
  index(idx: Tensor): Tensor {
    return A.index.t(this, [idx]);
  }
  /** Constant padding; `pads` as torch.nn.functional.pad: [left, right, top, bottom, ...]. */
  pad(pads: readonly number[], value = 0): Tensor {
    return A.pad.t(this, pads, value);
  }
  oneHot(numClasses: number): Tensor {
    return A.oneHot.t(this, numClasses);
  }

  // ---- linear algebra and convolution ----------------------------------------
  matmul(o: Tensor): Tensor {
    return A.matmul.t(this, o);
  }
  /** x @ weight^T + bias; weight: [out, in]. */
  linear(weight: Tensor, bias: Tensor | null = null): Tensor {
    return A.linear.t(this, weight, bias);
  }
  /** x: [B, Cin, H, W], weight: [Cout, Cin/groups, kh, kw]. */
  conv2d(
    weight: Tensor,
    bias: Tensor | null = null,
    stride: number | number[] = 1,
    padding: number | number[] = 0,
    dilation: number | number[] = 1,
    groups = 1,
  ): Tensor {
    return A.conv2d.t(this, weight, bias, stride, padding, dilation, groups);
  }
  /** x: [B, Cin, H, W], weight: [Cin, Cout/groups, kh, kw]. */
  convTranspose2d(
    weight: Tensor,
    bias: Tensor | null = null,
    stride: number | number[] = 1,
    padding: number | number[] = 0,
    outputPadding: number | number[] = 0,
    groups = 1,
    dilation: number | number[] = 1,
  ): Tensor {
    return A.convT2d.t(this, weight, bias, stride, padding, outputPadding, groups, dilation);
  }
  maxPool2d(kernel: number | number[], stride: number | number[] = kernel, padding: number | number[] = 0): Tensor {
    return A.maxPool2d.t(this, kernel, stride, padding, 1, false);
  }
  avgPool2d(kernel: number | number[], stride: number | number[] = kernel, padding: number | number[] = 0): Tensor {
    return A.avgPool2d.t(this, kernel, stride, padding, false, true, null);
  }
  adaptiveAvgPool2d(size: number | number[]): Tensor {
    return A.adaptiveAvgPool2d.t(this, size);
  }
  adaptiveMaxPool2d(size: number | number[]): Tensor {
    const [out, indices] = A.adaptiveMaxPool2d.ts(this, size) as [Tensor, Tensor];
    indices.dispose(); // NOTE: not returned, so free it now rather than at GC
    return out;
  }
  /**
   * Batch normalisation over dim 1. In training mode with running stats given,
   * they are updated in place: r = (1 - momentum) r + momentum * batch_stat
   * (unbiased variance), as PyTorch.
   */
  batchNorm(
    weight: Tensor | null,
    bias: Tensor | null,
    runningMean: Tensor | null,
    runningVar: Tensor | null,
    training: boolean,
    momentum = 0.1,
    eps = 1e-5,
  ): Tensor {
    return A.batchNorm.t(this, weight, bias, runningMean, runningVar, training, momentum, eps, false);
  }
  dropout(p: number, training: boolean): Tensor {
    return A.dropout.t(this, p, training);
  }

  // ---- activations --------------------------------------------------------------
  relu(): Tensor {
    return A.relu.t(this);
  }
  leakyRelu(slope = 0.01): Tensor {
    return A.leakyRelu.t(this, slope);
  }
  silu(): Tensor {
    return A.silu.t(this);
  }
  sigmoid(): Tensor {
    return A.sigmoid.t(this);
  }
  softplus(beta = 1, threshold = 20): Tensor {
    return A.softplus.t(this, beta, threshold);
  }
  gelu(): Tensor {
    return A.gelu.t(this, 'none');
  }
  softmax(dim: number): Tensor {
    return A.softmax.t(this, dim, null);
  }
  logSoftmax(dim: number): Tensor {
    return A.logSoftmax.t(this, dim, null);
  }

  // ---- losses (this = prediction) --------------------------------------------
  /** this: logits [B, K]; target: int64 class indices [B]. */
  crossEntropy(target: Tensor, reduction: Reduction = 'mean', labelSmoothing = 0): Tensor {
    return A.crossEntropy.t(this, target, null, REDUCTION[reduction], -100, labelSmoothing);
  }
  /** this: log-probabilities [B, K]; target: int64 [B]. */
  nllLoss(target: Tensor, reduction: Reduction = 'mean'): Tensor {
    return A.nllLoss.t(this, target, null, REDUCTION[reduction], -100);
  }
  /** this: probabilities in (0, 1); target same shape. */
  binaryCrossEntropy(target: Tensor, reduction: Reduction = 'mean'): Tensor {
    return A.bce.t(this, target, null, REDUCTION[reduction]);
  }
  binaryCrossEntropyWithLogits(target: Tensor, reduction: Reduction = 'mean'): Tensor {
    return A.bceLogits.t(this, target, null, null, REDUCTION[reduction]);
  }
  mseLoss(target: Tensor, reduction: Reduction = 'mean'): Tensor {
    return A.mse.t(this, target, REDUCTION[reduction]);
  }
  /**
   * KL(target || exp(this)) with this = log q, as torch.nn.functional.kl_div.
   * 'batchmean' divides the sum by the batch size (the mathematically correct KL mean).
   */
  klDiv(target: Tensor, reduction: Reduction | 'batchmean' = 'mean', logTarget = false): Tensor {
    if (reduction === 'batchmean') {
      const s = A.klDiv.t(this, target, REDUCTION.sum, logTarget);
      const out = s.div(this.size(0));
      s.dispose();
      return out;
    }
    return A.klDiv.t(this, target, REDUCTION[reduction], logTarget);
  }

  // ---- per-sample norms (over all non-batch dims): [B, ...] -> [B] -------------
  /** max |x| per sample */
  normLinf(): Tensor {
    return this.perSampleNorm(Infinity);
  }
  normL2(): Tensor {
    return this.perSampleNorm(2);
  }
  normL1(): Tensor {
    return this.perSampleNorm(1);
  }
  private perSampleNorm(p: number): Tensor {
    const dims = Array.from({ length: this.ndim - 1 }, (_, i) => i + 1);
    return this.norm(p, dims, false);
  }
}

export const ops = A;
