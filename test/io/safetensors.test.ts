// safetensors: exact round trips carso <-> PyTorch in every dtype, atomic
// writes, and a descriptive Error (naming the file) for each kind of damage.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, type DType, type Tensor } from '../../src/tensor/index.js';
import { Linear, Sequential, BatchNorm1d } from '../../src/nn/index.js';
import { loadModule, readSafetensors, saveModule, writeSafetensors } from '../../src/io/index.js';
import { checkTensor } from '../helpers.js';
import { readFixture, runTorchPython, torchUnavailable } from '../fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The values gen_nn.py's dtypes_case writes, one tensor per safetensors dtype.
const EXPECTED: Record<string, [DType, number[], number[]]> = {
  f32: ['float32', [2, 3], [0.5, -1.25, 3, 1024.125, -0, 6.5]],
  f64: ['float64', [3], [0.1, -2.5, 1e300]],
  f16: ['float16', [3], [0.5, -2, 65504]],
  bf16: ['bfloat16', [3], [1.5, -256, 0.0078125]],
  i64: ['int64', [3], [-3, 0, 2 ** 53 - 1]],
  i32: ['int32', [3], [-(2 ** 31), 7, 2 ** 31 - 1]],
  i16: ['int16', [3], [-(2 ** 15), 1, 2 ** 15 - 1]],
  i8: ['int8', [2, 2], [-128, 0, 1, 127]],
  u8: ['uint8', [3], [0, 128, 255]],
  bool: ['bool', [3], [1, 0, 1]],
  scalar: ['float32', [], [2.5]],
  empty: ['float32', [0, 3], []],
};

/** The EXPECTED tensors built in carso (f16/bf16 by exact conversion from float64). */
function expectedTensors(): Map<string, Tensor> {
  return new Map(
    Object.entries(EXPECTED).map(([k, [dtype, shape, values]]) => {
      const direct = !['float16', 'bfloat16', 'int64'].includes(dtype);
      return [k, direct ? tensor(values, shape, dtype) : tensor(values, shape, 'float64').to(dtype)];
    }),
  );
}

function checkAll(tensors: Map<string, Tensor>, label: string): void {
  assert.deepEqual([...tensors.keys()], Object.keys(EXPECTED), `${label}: names in order`);
  for (const [k, [dtype, shape, values]] of Object.entries(EXPECTED)) {
    const t = tensors.get(k)!;
    assert.equal(t.dtype, dtype, `${label}: ${k} dtype`);
    assert.deepEqual(t.shape, shape, `${label}: ${k} shape`);
    assert.deepEqual(t.toArray(), values, `${label}: ${k} values`);
  }
}

test('a file written by PyTorch reads with exact values, dtypes, shapes and metadata', () => {
  const fx = readFixture('dtypes');
  checkAll(fx.tensors, 'python -> carso');
  assert.deepEqual(fx.metadata, { format: 'pt', writer: 'gen_nn.py' });
});

test('carso round trip is exact in every dtype', () => {
  const path = join(dir, 'round.safetensors');
  writeSafetensors(path, expectedTensors(), { note: 'round trip' });
  const back = readSafetensors(path);
  checkAll(back.tensors, 'carso -> carso');
  assert.deepEqual(back.metadata, { note: 'round trip' });
  assert.equal(readFileSync(path).readUInt32LE(0) % 8, 0, 'header padded to 8 bytes');
});

test('a file written by carso loads in PyTorch with exact values', (t) => {
  const why = torchUnavailable();
  if (why !== null) return t.skip(why);
  const path = join(dir, 'for-torch.safetensors');
  writeSafetensors(path, expectedTensors(), { writer: 'carso' });
  const out = JSON.parse(runTorchPython('read_safetensors_check.py', [path])) as Record<
    string,
    { dtype: string; shape: number[]; sum: number; values: number[] }
  >;
  assert.deepEqual(out['__metadata__'], { writer: 'carso' });
  const TORCH: Record<string, string> = {
    float32: 'float',
    float64: 'double',
    float16: 'half',
    bfloat16: 'bfloat16',
    int64: 'long',
    int32: 'int',
    int16: 'short',
    int8: 'int8',
    uint8: 'uint8',
    bool: 'bool',
  };
  for (const [k, [dtype, shape, values]] of Object.entries(EXPECTED)) {
    const got = out[k]!;
    assert.ok([`torch.${dtype}`, `torch.${TORCH[dtype]}`].includes(got.dtype), `${k}: torch dtype ${got.dtype} for ${dtype}`);
    assert.deepEqual(got.shape, shape, `${k} shape`);
    assert.deepEqual(got.values, values, `${k} values`);
    assert.equal(
      got.sum,
      values.reduce((a, b) => a + b, 0),
      `${k} sum`,
    );
  }
});

test('writes are atomic: no temporary file is left and an existing file is replaced whole', () => {
  const sub = mkdtempSync(join(dir, 'atomic-'));
  const path = join(sub, 'w.safetensors');
  writeSafetensors(path, { a: tensor([1, 2, 3]) });
  writeSafetensors(path, { b: tensor([4]) });
  assert.deepEqual(readdirSync(sub), ['w.safetensors']);
  assert.deepEqual([...readSafetensors(path).tensors.keys()], ['b']);
});

/** A valid file's bytes with its header replaced (and the data section kept). */
function withHeader(header: object, data: Uint8Array = new Uint8Array(8)): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}
const F32x2 = (b: number, e: number): object => ({ dtype: 'F32', shape: [2], data_offsets: [b, e] });

test('damaged files throw an Error naming the file and the defect, and the process continues', () => {
  const path = join(dir, 'good.safetensors');
  writeSafetensors(path, { w: tensor([1, 2, 3, 4], [2, 2]), b: tensor([5, 6]) });
  const good = readFileSync(path);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'truncated data',
      good.subarray(0, good.length - 3),
      /data section is \d+ bytes but the tensors need \d+ \(truncated file\)/,
    ],
    ['trailing bytes', Buffer.concat([good, Buffer.from([0])]), /trailing bytes/],
    ['shorter than the length field', good.subarray(0, 5), /file is 5 bytes, too short/],
    ['truncated header', good.subarray(0, 20), /header length \d+ exceeds the 12 bytes/],
    ['header not JSON', withHeader({}).fill(0x7b, 8, 10), /header is not valid UTF-8 JSON/],
    ['header not an object', withHeader([1, 2]), /header is not a JSON object/],
    ['unknown dtype', withHeader({ a: { dtype: 'F8', shape: [2], data_offsets: [0, 8] } }), /tensor 'a': unsupported dtype "F8"/],
    [
      'negative shape',
      withHeader({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }),
      /tensor 'a': shape \[-2\] is not a list/,
    ],
    [
      'size mismatch',
      withHeader({ a: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }),
      /tensor 'a': F64 \[2\] needs 16 bytes, data_offsets \[0, 8\] span 8/,
    ],
    [
      'overlap',
      withHeader({ a: F32x2(0, 8), b: F32x2(4, 12) }, new Uint8Array(12)),
      /tensor 'b' begins at byte 4 .* \(overlap\)/,
    ],
    ['gap', withHeader({ a: F32x2(0, 8), b: F32x2(12, 20) }, new Uint8Array(20)), /tensor 'b' begins at byte 12 .* \(gap\)/],
    ['bad metadata', withHeader({ __metadata__: { n: 1 }, a: F32x2(0, 8) }), /__metadata__ is not an object of strings/],
    [
      'size beyond 2^53 bytes',
      withHeader({ a: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 8] } }),
      /tensor 'a': shape \[1073741824,1073741824,1073741824\] is too large/,
    ],
    [
      '65 dimensions',
      withHeader({ a: { dtype: 'F32', shape: [...Array<number>(63).fill(1), 2, 1], data_offsets: [0, 8] } }),
      /tensor 'a': shape .* is too large \(more than 2\^53 bytes or 64 dimensions\)/,
    ],
  ];
  for (const [label, bytes, pattern] of cases) {
    const bad = join(dir, `bad-${label.replace(/ /g, '-')}.safetensors`);
    writeFileSync(bad, bytes);
    assert.throws(
      () => readSafetensors(bad),
      (e: unknown) => e instanceof Error && e.message.includes(bad) && pattern.test(e.message),
      `${label}: expected an Error naming ${bad} and matching ${pattern}`,
    );
  }
  // fuzz regression: a path to a device (here a link to /dev/zero) is refused without reading it
  const dev = join(dir, 'zero.safetensors');
  symlinkSync('/dev/zero', dev);
  assert.throws(() => readSafetensors(dev), /safetensors: .*zero.safetensors: cannot read \(.* is not a regular file/);
  assert.deepEqual(readSafetensors(path).tensors.get('w')!.toArray(), [1, 2, 3, 4], 'still working afterwards');
});

test('saveModule / loadModule round trip with metadata; a mismatched file names itself and the keys', () => {
  const path = join(dir, 'model.safetensors');
  const a = new Sequential(new Linear(3, 4), new BatchNorm1d(4));
  a.call(tensor([1, 2, 3, 4, 5, 7], [2, 3])); // moves running stats and num_batches_tracked
  saveModule(path, a, { arch: 'test' });
  const b = new Sequential(new Linear(3, 4), new BatchNorm1d(4));
  assert.deepEqual(loadModule(path, b), { arch: 'test' });
  for (const [k, t] of a.stateDict()) checkTensor(b.stateDict().get(k)!, t, `loaded ${k}`, 0, 0);
  const wrong = new Sequential(new Linear(3, 5));
  assert.throws(
    () => loadModule(path, wrong),
    (e: unknown) =>
      e instanceof Error &&
      e.message.includes(path) &&
      /unexpected keys: 1\.weight/.test(e.message) &&
      /shape mismatch for 0\.weight/.test(e.message),
  );
});
