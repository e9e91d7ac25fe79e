// Autograd of every differentiable Tensor method against float64 central finite
// differences (micrograd's check, via test/helpers.ts gradcheck). A non-scalar
// result y is reduced to sum(y * w) with fixed weights w, so every output
// element's gradient path counts. Inputs are tiny (gradcheck perturbs one
// element at a time) and drawn from a PRNG seeded by the test's name, away from
// kinks (relu at 0, ties of max/sort/topk/Linf, |x| at 0) by construction or by
// a margin far larger than the step h = 1e-6.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cat, manualSeed, stack, tensor, where, type Tensor } from '../../src/tensor/index.js';
import { gradcheck } from '../helpers.js';

type Make = (rand: () => number) => Tensor;

/** Mulberry32: a tiny seeded PRNG, so inputs do not depend on libtorch's RNG state. */
function prng(label: string): () => number {
  let s = [...label].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 0x01000193), 0x811c9dc5) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A float64 tensor of `shape` with elements from `draw`. */
function floats(shape: number[], draw: () => number): Tensor {
  return tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, draw), shape, 'float64');
}
/** float64 uniform in [lo, hi) */
const u =
  (lo: number, hi: number, ...shape: number[]): Make =>
  (r) =>
    floats(shape, () => lo + (hi - lo) * r());
/** float64 in (-2, 2) with |x| >= 0.1: safely away from 0 for relu, abs and other kinks at 0 */
const n =
  (...shape: number[]): Make =>
  (r) =>
    floats(shape, () => (r() < 0.5 ? -1 : 1) * (0.1 + 1.9 * r()));
const pos = (...shape: number[]): Make => u(0.2, 2, ...shape);
const long = (data: number[], shape = [data.length]): Tensor => tensor(data, shape, 'int64');
const bool = (data: number[], shape = [data.length]): Tensor => tensor(data, shape, 'bool');

/** sum(y * w) with fixed weights w_i = cos(1.7 i + 0.3), so each output element counts differently. */
function weighted(y: Tensor): Tensor {
  const w = Float64Array.from({ length: y.numel }, (_, i) => Math.cos(1.7 * i + 0.3));
  return y.mul(tensor(w, y.shape, 'float64')).sum();
}

/** Registers a gradcheck of f with respect to every input. */
function gc(label: string, f: (...xs: Tensor[]) => Tensor, ...inputs: Make[]): void {
  test(label, () => {
    const r = prng(label);
    const xs = inputs.map((make) => make(r));
    try {
      gradcheck((...a) => weighted(f(...a)), xs, label);
    } finally {
      for (const x of xs) x.dispose();
    }
  });
}

// ---- elementwise arithmetic ------------------------------------------------------------------
gc('add (broadcast, alpha)', (a, b) => a.add(b, 2), n(2, 3), n(3));
gc('add scalar', (x) => x.add(1.5), n(2, 3));
gc('sub', (a, b) => a.sub(b), n(2, 3), n(2, 1));
gc('sub scalar alpha', (x) => x.sub(0.5, 3), n(2, 3));
gc('mul', (a, b) => a.mul(b), n(2, 3), n(2, 3));
gc('mul scalar', (x) => x.mul(-2.5), n(2, 3));
gc('div', (a, b) => a.div(b), n(2, 3), pos(2, 3));
gc('div scalar', (x) => x.div(3), n(2, 3));
gc('rsub', (x) => x.rsub(1), n(2, 3));
gc('pow scalar', (x) => x.pow(2.5), pos(2, 3));
gc('pow tensor', (a, b) => a.pow(b), pos(2, 3), n(2, 3));
gc('neg', (x) => x.neg(), n(2, 3));
gc('exp', (x) => x.exp(), n(2, 3));
gc('log', (x) => x.log(), pos(2, 3));
gc('log1p', (x) => x.log1p(), pos(2, 3));
gc('sqrt', (x) => x.sqrt(), pos(2, 3));
gc('rsqrt', (x) => x.rsqrt(), pos(2, 3));
gc('square', (x) => x.square(), n(2, 3));
gc('reciprocal', (x) => x.reciprocal(), pos(2, 3));
gc('abs (away from 0)', (x) => x.abs(), n(2, 3));
gc('tanh', (x) => x.tanh(), n(2, 3));
gc('sin', (x) => x.sin(), n(2, 3));
gc('cos', (x) => x.cos(), n(2, 3));
gc('minimum', (a, b) => a.minimum(b), n(2, 3), n(2, 3));
gc('maximum', (a, b) => a.maximum(b), n(2, 3), n(2, 3));
gc('sign, floor, ceil, round (zero gradient)', (x) => x.sign().add(x.floor()).add(x.ceil()).add(x.round()), n(2, 3));
gc('clamp scalar bounds', (x) => x.clamp(-0.5, 0.7), n(3, 4));
gc('clamp tensor bounds', (x, lo, hi) => x.clamp(lo, hi), n(2, 4), u(-1, -0.2, 4), u(0.2, 1, 2, 4));
gc('where', (a, b) => where(bool([1, 0, 0, 1, 1, 0], [2, 3]), a, b), n(2, 3), n(2, 3));
gc('where (method, broadcast)', (a, b) => a.where(bool([1, 0], [2, 1]), b), n(2, 3), n(3));
gc('maskedFill', (x) => x.maskedFill(bool([1, 0, 0, 1, 1, 0], [2, 3]), 0.5), n(2, 3));

gc('in-place ops on non-leaves', (x, y) => x.mul(2).add_(y, 0.5).mul_(y).addcmul_(x, y, 2), n(2, 3), n(2, 3));

// ---- reductions --------------------------------------------------------------------------------
gc('sum', (x) => x.sum(), n(2, 3));
gc('sum dims keepdim', (x) => x.sum([0, 2], true), n(2, 3, 2));
gc('mean', (x) => x.mean(), n(2, 3));
gc('mean dim', (x) => x.mean(1), n(2, 3));
gc('var (unbiased)', (x) => x.var(1), n(2, 4));
gc('var (biased, dims)', (x) => x.var([1, 2], true, 0), n(2, 2, 3));
gc('prod', (x) => x.prod(), pos(2, 3));
gc('max (all)', (x) => x.max(), n(2, 3));
gc('max dim (amax)', (x) => x.max(1), n(2, 3));
gc('min dim', (x) => x.min(0, true), n(2, 3));
gc('maxWithIndices', (x) => x.maxWithIndices(1)[0], n(2, 3));
gc('minWithIndices', (x) => x.minWithIndices(0)[0], n(2, 3));
gc('amax/amin', (x) => x.amax([1]).add(x.amin([0, 1])), n(2, 3));
gc('topk', (x) => x.topk(2, 1)[0], n(2, 4));
gc('sort', (x) => x.sort(1, true)[0], n(2, 4));
gc('cumsum', (x) => x.cumsum(1), n(2, 3));
gc('logsumexp', (x) => x.logsumexp(1), n(2, 4));
gc('norm p=3 over dims', (x) => x.norm(3, [1]), n(2, 3));

// ---- shape and indexing --------------------------------------------------------------------------
gc('view', (x) => x.view(3, 2), n(2, 3));
gc('reshape', (x) => x.reshape(-1), n(2, 3));
gc('permute', (x) => x.permute(2, 0, 1), n(2, 3, 2));
gc('transpose', (x) => x.transpose(0, 1), n(2, 3));
gc('flatten', (x) => x.flatten(1), n(2, 2, 2));
gc('squeeze/unsqueeze', (x) => x.squeeze(1).unsqueeze(2), n(2, 1, 3));
gc('expand', (x) => x.expand(2, 3, 4), n(3, 1));
gc('repeat', (x) => x.repeat(2, 2), n(2, 2));
gc('flip', (x) => x.flip([1]), n(2, 3));
gc('roll', (x) => x.roll([1], [1]), n(2, 3));
gc('contiguous of a transpose', (x) => x.transpose(0, 1).contiguous(), n(2, 3));
gc('clone', (x) => x.clone(), n(2, 3));
gc('slice', (x) => x.slice(1, 1, 4, 2), n(2, 5));
gc('narrow', (x) => x.narrow(1, 1, 2), n(2, 4));
gc('select', (x) => x.select(1, 2), n(2, 4));
gc('indexSelect (repeated)', (x) => x.indexSelect(0, long([2, 0, 2])), n(3, 2));
gc('gather', (x) => x.gather(1, long([0, 2, 2, 1], [2, 2])), n(2, 3));
gc('scatter', (x, s) => x.scatter(1, long([2, 0], [2, 1]), s), n(2, 3), n(2, 1));
gc('index (bool mask)', (x) => x.index(bool([1, 0, 1])), n(3, 2));
gc('index (int64)', (x) => x.index(long([2, 0, 2])), n(3, 2));
gc('pad (constant)', (x) => x.pad([1, 2, 0, 1], 0.5), n(1, 2, 2));
gc('cat', (a, b) => cat([a, b], 1), n(2, 2), n(2, 1));
gc('stack', (a, b) => stack([a, b], 0), n(2, 2), n(2, 2));

// ---- linear algebra, convolution, pooling, normalisation --------------------------------------
gc('matmul', (a, b) => a.matmul(b), n(2, 3), n(3, 2));
gc('matmul batched', (a, b) => a.matmul(b), n(2, 2, 3), n(3, 2));
gc('linear', (x, w, b) => x.linear(w, b), n(2, 3), n(4, 3), n(4));
gc('conv2d stride 2 pad 1 bias', (x, w, b) => x.conv2d(w, b, 2, 1), n(1, 2, 4, 4), n(3, 2, 3, 3), n(3));
gc('conv2d dilation 2 groups 2', (x, w) => x.conv2d(w, null, 1, 2, 2, 2), n(1, 2, 4, 4), n(2, 1, 3, 3));
gc('convTranspose2d s2 p1 op1', (x, w, b) => x.convTranspose2d(w, b, 2, 1, 1), n(1, 2, 2, 2), n(2, 2, 3, 3), n(2));
gc('convTranspose2d k2 p1', (x, w) => x.convTranspose2d(w, null, 1, 1), n(1, 2, 3, 3), n(2, 1, 2, 2));
gc('maxPool2d k3 s2 p1', (x) => x.maxPool2d(3, 2, 1), n(1, 1, 4, 4));
gc('avgPool2d k3 s2 p1', (x) => x.avgPool2d(3, 2, 1), n(1, 1, 4, 4));
gc('adaptiveAvgPool2d 3 from 5', (x) => x.adaptiveAvgPool2d(3), n(1, 1, 5, 5));
gc('adaptiveMaxPool2d 2 from 5', (x) => x.adaptiveMaxPool2d(2), n(1, 1, 5, 5));
gc(
  'batchNorm train',
  (x, w, b) => x.batchNorm(w, b, tensor([0, 0], [2], 'float64'), tensor([1, 1], [2], 'float64'), true),
  n(3, 2, 2, 1),
  pos(2),
  n(2),
);
gc(
  'batchNorm eval',
  (x, w, b) => x.batchNorm(w, b, tensor([0.3, -0.2], [2], 'float64'), tensor([0.5, 2], [2], 'float64'), false),
  n(3, 2, 1, 2),
  pos(2),
  n(2),
);
gc('dropout eval (identity)', (x) => x.dropout(0.5, false), n(2, 3));
// Reseeding inside f gives the same mask at every evaluation: a fixed linear map to check.
gc(
  'dropout train (fixed seed)',
  (x) => {
    manualSeed(7);
    return x.dropout(0.5, true);
  },
  n(2, 4),
);

// ---- activations and softmax ---------------------------------------------------------------------
gc('relu', (x) => x.relu(), n(2, 4));
gc('leakyRelu', (x) => x.leakyRelu(0.1), n(2, 4));
gc('silu', (x) => x.silu(), n(2, 4));
gc('sigmoid', (x) => x.sigmoid(), n(2, 4));
gc('softplus', (x) => x.softplus(), n(2, 4));
gc('softplus beta 2 threshold 1', (x) => x.softplus(2, 1), n(2, 4));
gc('gelu', (x) => x.gelu(), n(2, 4));
gc('softmax', (x) => x.softmax(1), n(2, 4));
gc('logSoftmax', (x) => x.logSoftmax(0), n(3, 2));

// ---- losses --------------------------------------------------------------------------------------
const labels = (): Tensor => long([2, 0, 3]);
gc('crossEntropy mean', (x) => x.crossEntropy(labels()), n(3, 4));
gc('crossEntropy sum', (x) => x.crossEntropy(labels(), 'sum'), n(3, 4));
gc('crossEntropy none', (x) => x.crossEntropy(labels(), 'none'), n(3, 4));
gc('crossEntropy label smoothing', (x) => x.crossEntropy(labels(), 'mean', 0.1), n(3, 4));
gc('nllLoss', (x) => x.logSoftmax(1).nllLoss(labels()), n(3, 4));
gc('binaryCrossEntropy sum', (p, t) => p.binaryCrossEntropy(t, 'sum'), u(0.1, 0.9, 2, 3), u(0, 1, 2, 3));
gc('binaryCrossEntropy mean', (p) => p.binaryCrossEntropy(tensor([0, 1, 0.3], [3], 'float64')), u(0.1, 0.9, 3));
gc('binaryCrossEntropyWithLogits', (x, t) => x.binaryCrossEntropyWithLogits(t), n(2, 3), u(0, 1, 2, 3));
gc('mseLoss mean', (a, b) => a.mseLoss(b), n(2, 3), n(2, 3));
gc('mseLoss sum', (a, b) => a.mseLoss(b, 'sum'), n(2, 3), n(2, 3));
gc('mseLoss none', (a, b) => a.mseLoss(b, 'none'), n(2, 3), n(2, 3));
gc('klDiv batchmean', (x, t) => x.logSoftmax(1).klDiv(t, 'batchmean'), n(2, 3), u(0.1, 1, 2, 3));
gc('klDiv sum', (x, t) => x.logSoftmax(1).klDiv(t, 'sum'), n(2, 3), u(0.1, 1, 2, 3));
gc('klDiv mean', (x, t) => x.logSoftmax(1).klDiv(t, 'mean'), n(2, 3), u(0.1, 1, 2, 3));
gc('klDiv log target', (x, t) => x.logSoftmax(1).klDiv(t, 'batchmean', true), n(2, 3), n(2, 3));

// ---- per-sample norms [B, ...] -> [B] (distinct |x|: no ties for Linf) -----------------------------
gc('normLinf', (x) => x.normLinf(), n(2, 2, 2, 2));
gc('normL2', (x) => x.normL2(), n(2, 2, 2, 2));
gc('normL1', (x) => x.normL1(), n(2, 2, 2, 2));

// ---- the checker itself ----------------------------------------------------------------------------
test('gradcheck fails on a wrong gradient', () => {
  // Forward is relu (the added term is 0), autograd's gradient is relu' + 0.5.
  const x = tensor([0.5, -0.3, 1.2], [3], 'float64');
  const badRelu = (a: Tensor): Tensor => weighted(a.relu().add(a.sub(a.detach()).mul(0.5)));
  assert.throws(() => gradcheck(badRelu, [x], 'bad relu'), /bad relu: d\/d input 0: mismatch/);
  x.dispose();
});
