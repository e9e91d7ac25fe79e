// Batch assembly: uint8 images [N, C, H, W] + indices -> x: [B, C, H, W]
// float32 in [0, 1] and y: [B] int64 tensors. Plain typed-array loops over a
// lookup table; augmentation (random crop with zero padding, horizontal flip)
// is applied while copying, so it costs no extra pass.
import type { Device } from '../tensor/index.js';
import { tensor, type Tensor } from '../tensor/index.js';
import type { ImageDataset } from './dataset.js';
import type { Pcg32 } from './random.js';

// NOTE: Math.fround(v / 255) is the correctly rounded float32 quotient (double
// rounding is innocuous for division at these widths), i.e. bit-equal to
// torch's x.float() / 255.
const SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** On-the-fly augmentation, drawn per sample from the loader's seeded PRNG. */
export interface Augment {
  /** Random crop of the image zero-padded by this many pixels on each side (CIFAR: 4); 0 = none. */
  cropPadding?: number;
  /** Mirror left-right with probability 1/2. */
  flip?: boolean;
}

/** The usual CIFAR training augmentation (pad 4, random 32x32 crop, flip). */
export const CIFAR_AUGMENT: Augment = { cropPadding: 4, flip: true };

/** One sample's transform: out[y][x] = img[y + dy][x' + dx] (zero outside), x' = flip ? W-1-x : x. */
export interface SampleTransform {
  dy: number;
  dx: number;
  flip: boolean;
}

/** Draws a transform: crop offsets uniform in [-pad, pad], then the flip coin. */
export function drawTransform(rng: Pcg32, aug: Augment): SampleTransform {
  const pad = aug.cropPadding ?? 0;
  const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
  const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
  return { dy, dx, flip: aug.flip === true && rng.int(2) === 1 };
}

/** Writes one [H, W] plane scaled to [0, 1], shifted and mirrored by t, zeros where it leaves the image. */
function writePlane(src: Uint8Array, s0: number, out: Float32Array, o0: number, h: number, w: number, t: SampleTransform): void {
  for (let y = 0; y < h; y++) {
    const sy = y + t.dy;
    const orow = o0 + y * w;
    if (sy < 0 || sy >= h) {
      out.fill(0, orow, orow + w);
      continue;
    }
    const srow = s0 + sy * w;
    for (let x = 0; x < w; x++) {
      const sx = (t.flip ? w - 1 - x : x) + t.dx;
      out[orow + x] = sx >= 0 && sx < w ? (SCALE[src[srow + sx] as number] as number) : 0;
    }
  }
}

// NOTE: one staging buffer, reused: tensor() copies it synchronously, and a
// fresh 1.5 MB Float32Array per CIFAR batch (zeroing + GC) costs about as much
// as filling it.
let staging = new Float32Array(0);
function stagingBuffer(n: number): Float32Array {
  if (staging.length < n) staging = new Float32Array(n);
  return staging.subarray(0, n);
}

export interface Batch {
  /** [B, C, H, W] float32 in [0, 1] */
  x: Tensor;
  /** [B] int64 */
  y: Tensor;
  /** [B] dataset index of each row */
  index: Int32Array;
}

/**
 * The points `index` of `ds` as tensors (x: [B, C, H, W] float32 in [0, 1],
 * y: [B] int64), with `transforms[k]` applied to row k when given. The caller
 * owns x and y (dispose them, or let a tidy scope do it).
 */
export function makeBatch(ds: ImageDataset, index: Int32Array, transforms?: readonly SampleTransform[], device?: Device): Batch {
  const [c, h, w] = ds.imageShape;
  const size = ds.imageSize;
  const src = ds.images;
  const out = stagingBuffer(index.length * size);
  const labels = new BigInt64Array(index.length);
  for (let k = 0; k < index.length; k++) {
    const i = index[k] as number;
    if (i < 0 || i >= ds.length) throw new RangeError(`makeBatch: index ${i} outside [0, ${ds.length}) of ${ds.name}`);
    labels[k] = BigInt(ds.labels[i] as number);
    const t = transforms?.[k];
    if (t === undefined || (t.dx === 0 && t.dy === 0 && !t.flip)) {
      for (let p = 0, s = i * size, o = k * size; p < size; p++) out[o + p] = SCALE[src[s + p] as number] as number;
    } else {
      for (let ch = 0; ch < c; ch++) writePlane(src, i * size + ch * h * w, out, k * size + ch * h * w, h, w, t);
    }
  }
  return {
    x: tensor(out, [index.length, c, h, w], 'float32', device),
    y: tensor(labels, [index.length], 'int64', device),
    index,
  };
}
