// The native binding's generic machinery (native/carso.cc): schema-driven
// argument conversion, results, handle ownership and bookkeeping. Op semantics
// are tested against PyTorch in test/tensor/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../../src/tensor/native.js';
import { op, tensor, tidy, zeros } from '../../src/tensor/index.js';

test('opId caches ids; opSchema prints the schema; unknown names throw', () => {
  const a = native.opId('aten::add', 'Tensor');
  assert.equal(native.opId('aten::add', 'Tensor'), a);
  assert.match(native.opSchema(a), /^aten::add\.Tensor\(Tensor self, Tensor other, \*, Scalar alpha=1\) -> Tensor/);
  assert.throws(() => native.opId('aten::add', 'Nope'), /aten::add\.Nope: no such operator/);
});

test('arguments convert by the schema: int[N] broadcast, bigint, defaults, optional None', () => {
  tidy(() => {
    const x = tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], [1, 1, 4, 4]);
    // kernel_size is int[2]: one number means [2, 2]; stride defaults to kernel_size ([] in the schema).
    assert.deepEqual(op('max_pool2d').t(x, 2).toArray(), [5, 7, 13, 15]);
    assert.deepEqual(op('max_pool2d').t(x, [1, 4]).shape, [1, 1, 4, 1]);
    assert.deepEqual(x.select(2, 1n as unknown as number).toArray(), [4, 5, 6, 7]);
    assert.deepEqual(op('sum', 'dim_IntList').t(x, [3], undefined, null).shape, [1, 1, 4]);
    assert.equal(op('rand').t([2], null, null, null, null).dtype, 'float32', 'null for every optional');
  });
});

test('Scalars keep integer tensors integral; fractional scalars promote', () => {
  tidy(() => {
    const i = tensor([1, 2], [2], 'int64');
    assert.equal(i.add(1).dtype, 'int64');
    assert.equal(i.add(0.5).dtype, 'float32');
    assert.deepEqual(i.add(0.5).toArray(), [1.5, 2.5]);
    assert.equal(tensor([1, 2]).mul(true as unknown as number).dtype, 'float32');
  });
});

test('Tensor?[] takes null for "all of this dimension"', () => {
  tidy(() => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const cols = op('index', 'Tensor').t(x, [null, tensor([2, 0], [2], 'int64')]);
    assert.deepEqual(cols.toArray(), [3, 1, 6, 4]);
  });
});

test('argument errors name the argument, the op and the shapes', () => {
  tidy(() => {
    const x = zeros([2, 3]);
    assert.throws(
      () => op('relu').t(x, 1),
      /aten::relu\(Tensor\[2, 3\] float32, 1\): too many arguments: 2 given, schema takes 1/,
    );
    assert.throws(() => op('transpose', 'int').t(x, 0), /missing argument 'dim1'/);
    assert.throws(() => x.sum(1, 1 as unknown as boolean), /keepdim: expected a boolean, got 1/);
  });
});

test('results: tuples become arrays, numbers and booleans come back as JS values', () => {
  tidy(() => {
    const x = tensor([3, 1, 2]);
    const r = op('sort').ts(x, 0, false);
    assert.equal(r.length, 2);
    assert.deepEqual(r[1]!.toArray(), [1, 2, 0]);
    assert.equal(op('size', 'int').call(x, 0), 3);
    assert.equal(op('is_nonzero').call(tensor([2])), true);
    assert.equal(op('equal').call(x, x), true);
  });
});

test('data in and out: byte length checked, non-contiguous views read in logical order', () => {
  assert.throws(
    () => native.fromArray(new Float32Array(5), [2, 3], 'float32'),
    /fromArray: typed array holds 20 bytes, shape and dtype need 24/,
  );
  assert.throws(() => native.fromArray(new Float32Array(6), [2, 3], 'float99'), /unknown dtype 'float99'/);
  tidy(() => {
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    assert.deepEqual(x.transpose(0, 1).toArray(), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual([...tensor([1, 2], [2], 'uint8').toBytes()], [1, 2]);
  });
});

test('handles: live count and external bytes follow create and free; free twice is harmless', () => {
  const before = native.stats();
  const h = native.fromArray(new Float64Array(10), [10], 'float64');
  let now = native.stats();
  assert.equal(now.liveTensors, before.liveTensors + 1);
  assert.equal(now.externalBytes, before.externalBytes + 80);
  native.free(h);
  native.free(h);
  now = native.stats();
  assert.equal(now.liveTensors, before.liveTensors);
  assert.equal(now.externalBytes, before.externalBytes);
  assert.equal(native.isFreed(h), true);
  assert.match(now.torchVersion, /^\d+\.\d+/);
});

test('generators are refused with a pointer to manualSeed', () => {
  tidy(() => {
    assert.throws(
      () => op('rand', 'generator').t([2], {} as never),
      /generator: generators are not supported; seed the default generator/,
    );
  });
});
