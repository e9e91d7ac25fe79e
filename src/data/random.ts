// A small deterministic PRNG for data order and augmentation: PCG32
// (O'Neill 2014, pcg32_random_r of pcg-c-basic, XSH-RR output over a 64-bit
// LCG). It lives in TypeScript, not libtorch, so that a loader's randomness
// is independent of model code and its state is a plain JSON object that a
// training checkpoint can store and restore.
//
// NOTE: the 64-bit state is held as two uint32 halves and multiplied with
// 16-bit limbs, exactly mod 2^64 (BigInt would be ~20x slower per draw).
//
//     const rng = new Pcg32(42, 54);
//     rng.nextUint32(); // 0xa15c02b7, as in pcg-c-basic's demo

/** A PCG32 state: the 64-bit LCG state and odd increment as 16-digit hex strings (JSON-safe). */
export interface RngState {
  readonly state: string;
  readonly inc: string;
}

const MUL_HI = 0x5851f42d; // 6364136223846793005 = 0x5851f42d_4c957f2d
const MUL_LO = 0x4c957f2d;
const TWO32 = 0x1_0000_0000;

/** Low 64 bits of a * b for uint32 a, b, as [hi, lo]. */
function mul32(a: number, b: number): [number, number] {
  const a1 = a >>> 16;
  const a0 = a & 0xffff;
  const b1 = b >>> 16;
  const b0 = b & 0xffff;
  const mid = a0 * b1 + a1 * b0; // < 2^33, exact in a double
  const low = a0 * b0 + (mid % 0x10000) * 0x10000; // < 2^33
  const hi = a1 * b1 + Math.floor(mid / 0x10000) + Math.floor(low / TWO32);
  return [hi >>> 0, low >>> 0];
}

const hex = (hi: number, lo: number): string => hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');

function parseHex(s: string, what: string): [number, number] {
  if (!/^[0-9a-f]{16}$/i.test(s)) throw new Error(`Pcg32.setState: ${what} must be 16 hex digits, got ${JSON.stringify(s)}`);
  return [parseInt(s.slice(0, 8), 16), parseInt(s.slice(8), 16)];
}

/** Splits a non-negative integer below 2^53 into uint32 halves. */
function split53(v: number, what: string): [number, number] {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`Pcg32: ${what} must be a non-negative safe integer, got ${v}`);
  return [Math.floor(v / TWO32) >>> 0, v >>> 0];
}

export class Pcg32 {
  private hi = 0;
  private lo = 0;
  private incHi = 0;
  private incLo = 1;

  /** `seed` picks the start, `stream` one of 2^63 independent sequences (both integers in [0, 2^53)). */
  constructor(seed = 0, stream = 0) {
    const [sh, sl] = split53(seed, 'seed');
    const [qh, ql] = split53(stream, 'stream');
    // inc = (stream << 1) | 1, as pcg32_srandom_r.
    this.incHi = ((qh << 1) | (ql >>> 31)) >>> 0;
    this.incLo = ((ql << 1) | 1) >>> 0;
    this.nextUint32();
    this.add(sh, sl);
    this.nextUint32();
  }

  private add(hi: number, lo: number): void {
    const l = this.lo + lo;
    this.lo = l >>> 0;
    this.hi = (this.hi + hi + (l >= TWO32 ? 1 : 0)) >>> 0;
  }

  /** A uniform uint32. */
  nextUint32(): number {
    const oh = this.hi,
      ol = this.lo;
    // state = state * MUL + inc (mod 2^64)
    const [ph, pl] = mul32(ol, MUL_LO);
    this.hi = (ph + Math.imul(oh, MUL_LO) + Math.imul(ol, MUL_HI)) >>> 0;
    this.lo = pl;
    this.add(this.incHi, this.incLo);
    // output: rotr32(((old >> 18) ^ old) >> 27, old >> 59)
    const xh = oh ^ (oh >>> 18);
    const xl = ol ^ ((ol >>> 18) | (oh << 14));
    const x = ((xl >>> 27) | (xh << 5)) >>> 0;
    const rot = oh >>> 27;
    return ((x >>> rot) | (x << ((32 - rot) & 31))) >>> 0;
  }

  /** A uniform float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextUint32() / TWO32;
  }

  /** A uniform integer in [0, n), without modulo bias (pcg32_boundedrand_r); 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO32) throw new Error(`Pcg32.int: n must be an integer in [1, 2^32], got ${n}`);
    const threshold = (TWO32 - n) % n;
    for (;;) {
      const r = this.nextUint32();
      if (r >= threshold) return r % n;
    }
  }

  /** Fisher-Yates shuffle in place; returns `a`. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i] as number;
      a[i] = a[j] as number;
      a[j] = t;
    }
    return a;
  }

  state(): RngState {
    return { state: hex(this.hi, this.lo), inc: hex(this.incHi, this.incLo) };
  }

  setState(s: RngState): void {
    const [ih, il] = parseHex(s.inc, 'inc');
    if ((il & 1) === 0) throw new Error(`Pcg32.setState: inc must be odd, got ${s.inc}`);
    [this.hi, this.lo] = parseHex(s.state, 'state');
    [this.incHi, this.incLo] = [ih, il];
  }
}
