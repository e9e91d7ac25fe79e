// Every op against PyTorch (tinygrad's helper_test_op): `checkOp(case, fn)` runs
// fn on the fixture's inputs and compares the forward outputs, in-place updates
// and input gradients of sum(out[0] * w) with PyTorch 1.13's, committed in
// test/fixtures/tensor/ops.json. A new op: one case line in
// test/fixtures/gen_tensor.py (regenerate), one checkOp line here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cat, grad, stack, tidy, where, zerosLike, type Tensor } from '../../src/tensor/index.js';
import { checkTensor } from '../helpers.js';
import { fromFixture, loadFixture, type OpCase } from './fixture.js';

const CASES = loadFixture<OpCase>('ops.json');
const registered = new Set<string>();

type OpFn = (...inputs: Tensor[]) => Tensor | Tensor[];

// NOTE: float32 on both sides with the same libtorch, so most results agree to
// the last bits; atol 1e-5 leaves room for a different summation order (thread
// count, vectorisation) on values of order 1.
const ATOL = 1e-5;
const RTOL = 1e-5;

/** Checks fn on case `name` against PyTorch: outputs (values and dtypes), in-place updates, gradients. */
function runCase(name: string, fn: OpFn, atol = ATOL, rtol = RTOL): void {
  const c = CASES.get(name);
  assert.ok(c, `no fixture case '${name}': add it to test/fixtures/gen_tensor.py and regenerate`);
  tidy(() => {
    const xs = c.inputs.map((i) => (i.grad ? fromFixture(i).requiresGrad_() : fromFixture(i)));
    const result = fn(...xs);
    const outs = Array.isArray(result) ? result : [result];
    assert.equal(outs.length, c.outputs.length, `${name}: ${outs.length} outputs, PyTorch gives ${c.outputs.length}`);
    c.outputs.forEach((e, k) => {
      const out = outs[k]!;
      assert.equal(out.dtype, e.dtype, `${name}: output ${k} is ${out.dtype}, PyTorch gives ${e.dtype}`);
      checkTensor(out, fromFixture(e), `${name}: output ${k}`, atol, rtol);
    });
    c.inputs.forEach((inp, k) => {
      const after = c.after[inp.name];
      if (after !== undefined) checkTensor(xs[k]!, fromFixture(after), `${name}: ${inp.name} after the call`, atol, rtol);
    });
    if (c.weight === null) return;
    const diff = c.inputs.flatMap((inp, k) => (inp.grad ? [{ name: inp.name, x: xs[k]! }] : []));
    const loss = outs[0]!.mul(fromFixture(c.weight)).sum();
    const leaves = diff.map(({ x }) => x);
    const gs = grad(loss, leaves, { allowUnused: true });
    diff.forEach(({ name: n, x }, k) => {
      const expected = c.grads[n];
      assert.ok(expected, `${name}: fixture has no gradient for ${n}`);
      checkTensor(gs[k] ?? zerosLike(x), fromFixture(expected), `${name}: grad ${n}`, atol, rtol);
    });
  });
}

/** Registers a test of `fn` against the PyTorch fixture case `name`. */
function checkOp(name: string, fn: OpFn, atol = ATOL, rtol = RTOL): void {
  registered.add(name);
  test(name, () => runCase(name, fn, atol, rtol));
}

// ---- convolution -------------------------------------------------------------------------
checkOp('conv2d_s2_p1_bias', (x, w, b) => x.conv2d(w, b, 2, 1));
checkOp('conv2d_dil2_p2', (x, w) => x.conv2d(w, null, 1, 2, 2));
checkOp('conv2d_groups2', (x, w, b) => x.conv2d(w, b, 1, 1, 1, 2));
checkOp('conv2d_asym', (x, w) => x.conv2d(w, null, [1, 2], [1, 0]));
checkOp('conv_transpose2d_s2_p1_op1', (x, w, b) => x.convTranspose2d(w, b, 2, 1, 1));
checkOp('conv_transpose2d_k2_s2_p1', (x, w) => x.convTranspose2d(w, null, 2, 1));
checkOp('conv_transpose2d_k2_p1', (x, w) => x.convTranspose2d(w, null, 1, 1));

// ---- batch norm (training also updates the running statistics in place) -------------------
checkOp('batch_norm_train', (x, w, b, rm, rv) => x.batchNorm(w, b, rm, rv, true, 0.1, 1e-5));
checkOp('batch_norm_eval', (x, w, b, rm, rv) => x.batchNorm(w, b, rm, rv, false, 0.1, 1e-5));
checkOp('batch_norm_train_no_affine', (x) => x.batchNorm(null, null, null, null, true));

// ---- pooling -------------------------------------------------------------------------------
checkOp('max_pool2d_k2', (x) => x.maxPool2d(2));
checkOp('max_pool2d_k3_s2_p1', (x) => x.maxPool2d(3, 2, 1));
checkOp('avg_pool2d_k2', (x) => x.avgPool2d(2));
checkOp('avg_pool2d_k3_s2_p1', (x) => x.avgPool2d(3, 2, 1));
checkOp('adaptive_avg_pool2d_1', (x) => x.adaptiveAvgPool2d(1));
checkOp('adaptive_avg_pool2d_3', (x) => x.adaptiveAvgPool2d([3, 3]));
checkOp('adaptive_max_pool2d_2', (x) => x.adaptiveMaxPool2d(2));

// ---- linear algebra ------------------------------------------------------------------------
checkOp('linear_bias', (x, w, b) => x.linear(w, b));
checkOp('linear_batched_no_bias', (x, w) => x.linear(w));
checkOp('matmul_2d', (a, b) => a.matmul(b));
checkOp('matmul_batched_broadcast', (a, b) => a.matmul(b));
checkOp('matmul_vector', (a, b) => a.matmul(b));

// ---- activations ---------------------------------------------------------------------------
checkOp('relu', (x) => x.relu());
checkOp('leaky_relu', (x) => x.leakyRelu());
checkOp('leaky_relu_0.2', (x) => x.leakyRelu(0.2));
checkOp('silu', (x) => x.silu());
checkOp('sigmoid', (x) => x.sigmoid());
checkOp('softplus', (x) => x.softplus());
checkOp('softplus_beta2_threshold1', (x) => x.softplus(2, 1));
checkOp('tanh', (x) => x.tanh());
checkOp('gelu', (x) => x.gelu());
checkOp('dropout_eval', (x) => x.dropout(0.5, false));

// ---- softmax family ------------------------------------------------------------------------
checkOp('softmax_dim1', (x) => x.softmax(1));
checkOp('softmax_dim0', (x) => x.softmax(0));
checkOp('log_softmax_dim1', (x) => x.logSoftmax(1));
checkOp('log_softmax_last_3d', (x) => x.logSoftmax(-1));
checkOp('logsumexp_dim1', (x) => x.logsumexp(1));
checkOp('logsumexp_dims12_keepdim', (x) => x.logsumexp([1, 2], true));

// ---- losses --------------------------------------------------------------------------------
checkOp('cross_entropy_mean', (x, y) => x.crossEntropy(y));
checkOp('cross_entropy_sum', (x, y) => x.crossEntropy(y, 'sum'));
checkOp('cross_entropy_none', (x, y) => x.crossEntropy(y, 'none'));
checkOp('cross_entropy_label_smoothing', (x, y) => x.crossEntropy(y, 'mean', 0.1));
checkOp('cross_entropy_label_smoothing_sum', (x, y) => x.crossEntropy(y, 'sum', 0.2));
checkOp('nll_loss_mean', (x, y) => x.logSoftmax(1).nllLoss(y));
checkOp('binary_cross_entropy_sum', (p, t) => p.binaryCrossEntropy(t, 'sum'));
checkOp('binary_cross_entropy_mean', (p, t) => p.binaryCrossEntropy(t));
checkOp('binary_cross_entropy_with_logits_mean', (x, t) => x.binaryCrossEntropyWithLogits(t));
checkOp('mse_mean', (a, b) => a.mseLoss(b));
checkOp('mse_sum', (a, b) => a.mseLoss(b, 'sum'));
checkOp('mse_none', (a, b) => a.mseLoss(b, 'none'));
checkOp('kl_div_batchmean', (x, t) => x.logSoftmax(1).klDiv(t, 'batchmean'));
checkOp('kl_div_sum', (x, t) => x.logSoftmax(1).klDiv(t, 'sum'));
checkOp('kl_div_mean', (x, t) => x.logSoftmax(1).klDiv(t, 'mean'));
checkOp('kl_div_log_target', (x, t) => x.logSoftmax(1).klDiv(t, 'batchmean', true));

// ---- per-sample norms [B, C, H, W] -> [B] --------------------------------------------------
checkOp('norm_linf', (x) => x.normLinf());
checkOp('norm_l2', (x) => x.normL2());
checkOp('norm_l1', (x) => x.normL1());

// ---- clamp, where, selection ---------------------------------------------------------------
checkOp('clamp_tensor_bounds', (x, lo, hi) => x.clamp(lo, hi));
checkOp('clamp_scalar', (x) => x.clamp(-0.5, 0.7));
checkOp('clamp_min_only', (x) => x.clamp(-0.3));
checkOp('where', (c, a, b) => where(c, a, b));
checkOp('where_broadcast', (c, a, b) => a.where(c, b));
checkOp('gather_dim1', (x, i) => x.gather(1, i));
checkOp('gather_dim0', (x, i) => x.gather(0, i));
checkOp('topk_3_dim1', (x) => x.topk(3, 1));
checkOp('topk_smallest', (x) => x.topk(2, 0, false));
checkOp('sort_dim1', (x) => x.sort(1));
checkOp('sort_descending_dim0', (x) => x.sort(0, true));
checkOp('max_dim1_indices', (x) => x.maxWithIndices(1));
checkOp('max_dim0_keepdim_indices', (x) => x.maxWithIndices(0, true));
checkOp('min_dim1_indices', (x) => x.minWithIndices(1));
checkOp('max_all', (x) => x.max());
checkOp('amax_dim1', (x) => x.max(1));
checkOp('argmax_dim1', (x) => x.argmax(1));

// ---- joining, slicing, indexing, padding ---------------------------------------------------
checkOp('cat_dim1', (a, b) => cat([a, b], 1));
checkOp('cat_dim0', (a, b) => cat([a, b]));
checkOp('stack_dim1', (a, b) => stack([a, b], 1));
checkOp('slice_step2', (x) => x.slice(1, 1, 5, 2));
checkOp('narrow', (x) => x.narrow(1, 2, 3));
checkOp('select', (x) => x.select(1, 2));
checkOp('index_select_repeated', (x, i) => x.indexSelect(0, i));
checkOp('index_bool_mask', (x, m) => x.index(m));
checkOp('index_int', (x, i) => x.index(i));
checkOp('constant_pad', (x) => x.pad([1, 2, 0, 1], 0.5));
checkOp('constant_pad_crop', (x) => x.pad([-1, 0, 1, 1]));

// ---- shape ---------------------------------------------------------------------------------
checkOp('reshape', (x) => x.reshape(4, 6));
checkOp('permute', (x) => x.permute(2, 0, 1));
checkOp('transpose', (x) => x.transpose(0, 2));
checkOp('flatten', (x) => x.flatten(1));
checkOp('expand', (x) => x.expand(2, 3, 4));
checkOp('squeeze_unsqueeze', (x) => x.squeeze(1).unsqueeze(0));
checkOp('flip', (x) => x.flip([0, 2]));
checkOp('repeat', (x) => x.repeat(2, 1, 3));
checkOp('roll', (x) => x.roll([1, -1], [0, 1]));

// ---- elementwise ---------------------------------------------------------------------------
checkOp('add_broadcast_alpha', (a, b) => a.add(b, 2));
checkOp('sub', (a, b) => a.sub(b));
checkOp('mul', (a, b) => a.mul(b));
checkOp('div', (a, b) => a.div(b));
checkOp('rsub_scalar', (x) => x.rsub(1));
checkOp('pow_scalar', (x) => x.pow(2.5));
checkOp('pow_tensor', (a, b) => a.pow(b));
checkOp('exp', (x) => x.exp());
checkOp('log', (x) => x.log());
checkOp('log1p', (x) => x.log1p());
checkOp('sqrt', (x) => x.sqrt());
checkOp('rsqrt', (x) => x.rsqrt());
checkOp('reciprocal', (x) => x.reciprocal());
checkOp('square', (x) => x.square());
checkOp('abs', (x) => x.abs());
checkOp('neg', (x) => x.neg());
checkOp('sign', (x) => x.sign());
checkOp('minimum', (a, b) => a.minimum(b));
checkOp('maximum', (a, b) => a.maximum(b));
checkOp('masked_fill', (x, m) => x.maskedFill(m, -2.5));
checkOp('gt_tensor', (a, b) => a.gt(b));
checkOp('le_scalar', (x) => x.le(0.25));

// ---- reductions ----------------------------------------------------------------------------
checkOp('sum_all', (x) => x.sum());
checkOp('sum_dims_keepdim', (x) => x.sum([0, 2], true));
checkOp('mean_all', (x) => x.mean());
checkOp('mean_dim1', (x) => x.mean(1));
checkOp('var_dim1_unbiased', (x) => x.var(1));
checkOp('var_dims_biased', (x) => x.var([1, 2], false, 0));
checkOp('prod', (x) => x.prod());
checkOp('cumsum', (x) => x.cumsum(1));

// ---- the harness itself ----------------------------------------------------------------------
test('every fixture case has a checkOp', () => {
  const missing = [...CASES.keys()].filter((k) => !registered.has(k));
  assert.deepEqual(missing, [], `fixture cases without a checkOp line: ${missing.join(', ')}`);
});

test('checkOp fails on a wrong forward, a wrong gradient, a wrong argument and a wrong dtype', () => {
  assert.throws(() => runCase('sigmoid', (x) => x.tanh()), /sigmoid: output 0: mismatch/);
  assert.throws(() => runCase('conv2d_s2_p1_bias', (x, w, b) => x.conv2d(w, b, 1, 1)), /shape/);
  // Same forward (adds zero), gradient scaled by 1.5.
  assert.throws(() => runCase('relu', (x) => x.relu().add(x.sub(x.detach()).mul(0.5))), /relu: grad x: mismatch/);
  assert.throws(() => runCase('argmax_dim1', (x) => x.argmax(1).to('int32')), /int32, PyTorch gives int64/);
  assert.throws(() => runCase('batch_norm_train', (x, w, b) => x.batchNorm(w, b, null, null, true)), /rm after the call/);
});
