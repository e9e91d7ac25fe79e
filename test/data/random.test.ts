import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Pcg32 } from '../../src/data/random.js';

/** Reference PCG32 step in BigInt (pcg-c-basic), to check the 32-bit-limb arithmetic. */
function* referencePcg(seed: bigint, stream: bigint): Generator<number> {
  const M = 6364136223846793005n;
  const inc = BigInt.asUintN(64, (stream << 1n) | 1n);
  let s = 0n;
  const step = (): number => {
    const old = s;
    s = BigInt.asUintN(64, old * M + inc);
    const x = Number(BigInt.asUintN(32, ((old >> 18n) ^ old) >> 27n));
    const r = Number(old >> 59n);
    return ((x >>> r) | (x << (32 - r))) >>> 0;
  };
  step();
  s = BigInt.asUintN(64, s + seed);
  step();
  for (;;) yield step();
}

test('Pcg32 matches the pcg-c-basic demo output (seed 42, stream 54)', () => {
  const r = new Pcg32(42, 54);
  const out = Array.from({ length: 6 }, () => r.nextUint32().toString(16));
  assert.deepEqual(out, ['a15c02b7', '7b47f409', 'ba1d3330', '83d2f293', 'bfa4784b', 'cbed606e']);
});

test('Pcg32 matches a BigInt reference for large seeds and streams', () => {
  for (const [seed, stream] of [
    [0, 0],
    [2 ** 53 - 1, 2 ** 52 + 12345],
    [0xdeadbeef, 7],
  ] as const) {
    const r = new Pcg32(seed, stream);
    const ref = referencePcg(BigInt(seed), BigInt(stream));
    for (let i = 0; i < 1000; i++) assert.equal(r.nextUint32(), ref.next().value, `seed ${seed} stream ${stream} draw ${i}`);
  }
});

test('Pcg32 state save/restore replays the same draws, and survives JSON', () => {
  const r = new Pcg32(7);
  for (let i = 0; i < 10; i++) r.nextUint32();
  const saved = JSON.parse(JSON.stringify(r.state())) as ReturnType<Pcg32['state']>;
  const a = Array.from({ length: 20 }, () => r.nextUint32());
  const s = new Pcg32(999);
  s.setState(saved);
  assert.deepEqual(
    Array.from({ length: 20 }, () => s.nextUint32()),
    a,
  );
  assert.throws(() => s.setState({ state: 'xyz', inc: saved.inc }), /16 hex digits/);
  assert.throws(() => s.setState({ state: saved.state, inc: '0000000000000002' }), /odd/);
});

test('Pcg32.int is in range and roughly uniform; shuffle is a permutation', () => {
  const r = new Pcg32(3);
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 60000; i++) {
    const k = r.int(6);
    assert.ok(k >= 0 && k < 6 && Number.isInteger(k));
    counts[k]! += 1;
  }
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `counts ${counts}`);
  const p = r.shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(
    Array.from(p.slice().sort()),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.notDeepEqual(
    Array.from(p),
    Array.from({ length: 100 }, (_, i) => i),
  );
});
