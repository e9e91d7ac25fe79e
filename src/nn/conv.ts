// 2-D convolutions (torch.nn.Conv2d, torch.nn.ConvTranspose2d), zero padding.
import { tidy, type Tensor } from '../tensor/index.js';
import { WeightedModule } from './weighted.js';

/** One value for both spatial dims, or [h, w]. */
export type Pair = number | readonly [number, number];
/** Explicit zero padding as torch.nn.functional.pad: [left, right, top, bottom]. */
export type Pad4 = readonly [number, number, number, number];

interface CommonOptions {
  stride?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}
export interface Conv2dOptions extends CommonOptions {
  /** Symmetric [h, w] padding, or asymmetric [left, right, top, bottom] (e.g. [0, 1, 0, 1] before a stride-2 conv). */
  padding?: Pair | Pad4;
}
export interface ConvTranspose2dOptions extends CommonOptions {
  padding?: Pair;
  /** Extra rows/columns on the bottom/right of the output (resolves the stride ambiguity of the output size). */
  outputPadding?: Pair;
}

/** [h, w] from one value or a pair. */
export const pair = (v: Pair): number[] => (typeof v === 'number' ? [v, v] : [...v]);

/** The weight shape of a (transposed) convolution, after checking the groups. */
function weightShape(
  layer: string,
  inChannels: number,
  outChannels: number,
  kernel: Pair,
  groups: number,
  transposed: boolean,
): number[] {
  if (inChannels % groups !== 0 || outChannels % groups !== 0)
    throw new Error(`${layer}: channels ${inChannels} -> ${outChannels} must both be divisible by groups=${groups}`);
  // NOTE: the transposed weight is [in, out/groups, kh, kw], so its fan_in (dim 1) is out/groups * kh * kw, as PyTorch.
  return [...(transposed ? [inChannels, outChannels / groups] : [outChannels, inChannels / groups]), ...pair(kernel)];
}

/** What both convolutions share: weight/bias with PyTorch's init, stride, dilation, groups. */
abstract class ConvBase extends WeightedModule {
  readonly stride: number[];
  readonly dilation: number[];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernel: Pair, opts: CommonOptions, transposed: boolean) {
    const groups = opts.groups ?? 1;
    super(weightShape(new.target.name, inChannels, outChannels, kernel, groups, transposed), opts.bias ?? true, outChannels);
    this.stride = pair(opts.stride ?? 1);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = groups;
  }
}

export class Conv2d extends ConvBase {
  /** Symmetric [h, w] padding given to the convolution (0 when `explicitPad` is used). */
  readonly padding: number[];
  /** Asymmetric padding applied before the convolution, or null. */
  readonly explicitPad: Pad4 | null;

  /** weight: [out, in/groups, kh, kw]; bias: [out]. */
  constructor(inChannels: number, outChannels: number, kernel: Pair, opts: Conv2dOptions = {}) {
    super(inChannels, outChannels, kernel, opts, false);
    const p = opts.padding ?? 0;
    const four = typeof p !== 'number' && p.length === 4;
    this.explicitPad = four ? p : null;
    this.padding = four ? [0, 0] : pair(p as Pair);
  }

  /** x: [B, in, H, W] -> [B, out, H', W'] */
  forward(x: Tensor): Tensor {
    const conv = (v: Tensor): Tensor => v.conv2d(this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups);
    const pad = this.explicitPad;
    return pad === null ? conv(x) : tidy(() => conv(x.pad(pad)));
  }
}

export class ConvTranspose2d extends ConvBase {
  readonly padding: number[];
  readonly outputPadding: number[];

  /** weight: [in, out/groups, kh, kw]; bias: [out]. */
  constructor(inChannels: number, outChannels: number, kernel: Pair, opts: ConvTranspose2dOptions = {}) {
    super(inChannels, outChannels, kernel, opts, true);
    this.padding = pair(opts.padding ?? 0);
    this.outputPadding = pair(opts.outputPadding ?? 0);
  }

  /** x: [B, in, H, W] -> [B, out, (H-1)*s - 2p + d*(k-1) + op + 1, ...] */
  forward(x: Tensor): Tensor {
    return x.convTranspose2d(this.weight, this.bias, this.stride, this.padding, this.outputPadding, this.groups, this.dilation);
  }
}
