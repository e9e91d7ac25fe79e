// The representation compressors (carso.md 2.2-2.3; the reference's
// tooling/modelpieces.py): one conv stack per tap, then the flatten-concat FC
// that makes the condition vector c. Children are named as the reference's
// nn.Sequential indices, so state-dict keys match its safetensors files:
//   repr_compressors.<tap>.<block>.{0: Conv2d, 1: BatchNorm2d}.*
//   repr_fcn_compressor.1.{0: Linear, 1: BatchNorm1d}.*   (index 0 is the parameter-free Concatenate)
import { cat, tidy, type Tensor } from '../tensor/index.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, LeakyReLU, Linear, Module, Sequential } from '../nn/index.js';

/** NOTE: the reference's LeakyReLU slope, everywhere in the purifier. */
export const LEAKY_SLOPE = 0.2;

export interface ConvBlockOptions {
  stride?: number;
  padding?: number;
}

/** Conv2d(k, no bias) -> BatchNorm2d(affine) -> LeakyReLU(0.2): x: [B, cin, H, W] -> [B, cout, H', W']. */
export function convBlock(cin: number, cout: number, kernel: number, o: ConvBlockOptions = {}): Sequential {
  return new Sequential(
    new Conv2d(cin, cout, kernel, { stride: o.stride ?? 1, padding: o.padding ?? 0, bias: false }),
    new BatchNorm2d(cout),
    new LeakyReLU(LEAKY_SLOPE),
  );
}

/** Linear(no bias) -> BatchNorm1d(affine) -> LeakyReLU(0.2): x: [B, in] -> [B, out]. */
export function fcBlock(inFeatures: number, outFeatures: number): Sequential {
  return new Sequential(new Linear(inFeatures, outFeatures, false), new BatchNorm1d(outFeatures), new LeakyReLU(LEAKY_SLOPE));
}

/** A tap [c, h, w] after `convs` unpadded 3x3 convs halving channels with ceiling: [ceil(c / 2^convs), h - 2 convs, w - 2 convs]. */
export function compressedShape(shape: readonly number[], convs: number): [number, number, number] {
  const [c, h, w] = shape as [number, number, number];
  const [ho, wo] = [h - 2 * convs, w - 2 * convs];
  if (ho < 1 || wo < 1) throw new Error(`compressedShape: a ${h}x${w} tap cannot take ${convs} unpadded 3x3 convs`);
  return [Math.ceil(c / 2 ** convs), ho, wo];
}

/**
 * One tap's compressor (make_lw_repr_compressor): `convs` blocks of unpadded 3x3
 * conv, channels c -> ceil(c/2) -> ceil(c/4) -> ... (ceil(c / 2^k), the reference's
 * formula). tap: [B, c, h, w] -> [B, ceil(c / 2^convs), h - 2 convs, w - 2 convs].
 */
export class TapCompressor extends Sequential {
  constructor(channels: number, convs: number) {
    super();
    for (let k = 0; k < convs; k++) this.append(convBlock(Math.ceil(channels / 2 ** k), Math.ceil(channels / 2 ** (k + 1)), 3));
  }
}

/** repr_compressors: one TapCompressor per tap, children '0', '1', ... in tap order. */
export class TapCompressors extends Module {
  private readonly list: TapCompressor[];

  /** shapes: each tap's [C, H, W] (batch dim excluded), in tap order. */
  constructor(
    readonly shapes: readonly (readonly number[])[],
    readonly convs: number,
  ) {
    super();
    for (const s of shapes) compressedShape(s, convs); // throws early for a tap too small
    this.list = shapes.map((s, i) => this.addModule(String(i), new TapCompressor(s[0]!, convs)));
  }

  /** Total features after flattening every compressed tap (CIFAR WRN-28-10: 147 040). */
  get outFeatures(): number {
    return this.shapes.reduce((sum, s) => sum + compressedShape(s, this.convs).reduce((a, b) => a * b, 1), 0);
  }

  /** taps[i]: [B, C_i, H_i, W_i] -> [B, outFeatures]: compress, flatten (NCHW) and concatenate in tap order. */
  compress(taps: readonly Tensor[]): Tensor {
    if (taps.length !== this.list.length)
      throw new Error(`TapCompressors: ${taps.length} taps given, ${this.list.length} expected`);
    return tidy(() =>
      cat(
        taps.map((t, i) => this.list[i]!.call(t).flatten(1)),
        1,
      ),
    );
  }

  forward(_x: Tensor): Tensor {
    throw new Error('TapCompressors takes the list of taps: use compress(taps)');
  }
}

/** make_flatcat_compressor: Concatenate(flatten) then fcBlock; the block is child '1' as in the reference. */
export class FlatCatCompressor extends Module {
  readonly block: Sequential;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    this.block = this.addModule('1', fcBlock(inFeatures, outFeatures));
  }

  /** x: [B, inFeatures] -> [B, outFeatures]. */
  forward(x: Tensor): Tensor {
    return this.block.call(x);
  }

  /** parts[i]: [B, ...] -> flatten each, concatenate in order -> [B, outFeatures]. */
  concatCall(parts: readonly Tensor[]): Tensor {
    return tidy(() =>
      this.call(
        cat(
          parts.map((p) => p.flatten(1)),
          1,
        ),
      ),
    );
  }
}
