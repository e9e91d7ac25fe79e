// Bad input never aborts the process: every native failure becomes a JS Error
// that names the operator and the argument shapes, and the next op still works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { op, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';

/** Asserts fn throws an Error matching every pattern, then that a normal op still runs. */
function throwsNaming(fn: () => unknown, ...patterns: RegExp[]): void {
  tidy(() => {
    let message = '';
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
      message = err.message;
      return true;
    });
    for (const p of patterns) assert.match(message, p);
    const after = tensor([1, 2, 3]).mul(2).sum().item();
    assert.equal(after, 12, 'a normal op after the error');
  });
}

test('conv2d with the wrong channel count', () => {
  const x = zeros([1, 3, 5, 5]);
  const w = zeros([4, 2, 3, 3]);
  throwsNaming(() => x.conv2d(w), /aten::conv2d/, /Tensor\[1, 3, 5, 5\] float32/, /Tensor\[4, 2, 3, 3\] float32/, /channels/);
  [x, w].forEach((t) => t.dispose());
});

test('reshape to an incompatible size', () => {
  const x = zeros([2, 3]);
  throwsNaming(() => x.reshape(4, 2), /aten::reshape/, /Tensor\[2, 3\] float32/, /\[4, 2\]/, /invalid for input of size 6/);
  x.dispose();
});

test('matmul shape mismatch', () => {
  const a = zeros([2, 3]);
  const b = zeros([2, 4]);
  throwsNaming(() => a.matmul(b), /aten::matmul/, /Tensor\[2, 3\] float32, Tensor\[2, 4\] float32/, /cannot be multiplied/);
  [a, b].forEach((t) => t.dispose());
});

test('using a freed tensor', () => {
  const x = zeros([2, 3]);
  const y = zeros([2, 3]);
  x.dispose();
  throwsNaming(() => y.add(x), /aten::add\.Tensor/, /Tensor\[2, 3\] float32 \(freed\)/, /already freed/);
  throwsNaming(() => x.relu(), /aten::relu/, /freed/);
  throwsNaming(() => x.shape, /Tensor\[2, 3\] float32 was already freed/);
  assert.equal(x.isDisposed, true);
  x.dispose(); // a second dispose is harmless
  y.dispose();
});

test('an unknown operator name', () => {
  const x = zeros([2]);
  throwsNaming(() => op('no_such_op').t(x), /aten::no_such_op/, /no such operator/, /Tensor\[2\] float32/);
  throwsNaming(() => op('add', 'NoSuchOverload').t(x, x), /aten::add/, /no such operator/);
  x.dispose();
});

test('a string where the schema wants an int', () => {
  const x = zeros([2, 3]);
  const bad = 'two' as unknown as number; // what an untyped caller might pass
  throwsNaming(() => x.select(1, bad), /aten::select\.int/, /Tensor\[2, 3\] float32/, /index: expected an integer, got 'two'/);
  throwsNaming(() => x.flatten(bad), /aten::flatten/, /start_dim: expected an integer/);
  throwsNaming(() => x.select(1, 1.5), /index: expected an integer, got 1\.5/);
  throwsNaming(() => x.to('float33' as never), /aten::to\.dtype/, /unknown dtype 'float33'/);
  x.dispose();
});

test('float labels given to cross entropy', () => {
  const logits = zeros([4, 5]);
  const labels = tensor([1, 2, 3, 0]); // float32, where class indices must be int64
  throwsNaming(
    () => logits.crossEntropy(labels),
    /aten::cross_entropy_loss/,
    /Tensor\[4, 5\] float32, Tensor\[4\] float32/,
    /expected scalar type Long but found Float/,
  );
  [logits, labels].forEach((t) => t.dispose());
});

test('errors from autograd, item and creation name what failed', () => {
  tidy(() => {
    const x = zeros([2, 3]);
    const noGradNeeded: Tensor = x.mul(2).sum();
    throwsNaming(() => noGradNeeded.backward(), /backward\(\[Tensor\[\] float32\]\)/, /does not require grad/);
    throwsNaming(() => x.item(), /item\(\): tensor has 6 elements \(shape \[2, 3\]\)/);
    throwsNaming(() => tensor([1, 2, 3], [2, 2]), /3 values do not fill shape \[2, 2\]/);
  });
});
