// DeepMind-style pre-activation WideResNet with SiLU (carso.md section 1): the
// classifier of every CARSO scenario, a port of ebtorch.nn.WideResNet (itself
// DeepMind's PyTorch WRN, used by Gowal et al. 2020, Rebuffi et al. 2021, Cui et
// al. 2023, Wang et al. 2023). Parameter and buffer names are those of the
// PyTorch state dict, so the public robust WRN-28-10 safetensors load unchanged:
//
//   init_conv.weight                                   conv 3x3, C_in -> 16, stride 1, pad 1, no bias
//   layer.{g}.block.{j}.batchnorm_0.*                  g = 0..2 groups, j = 0..n-1 blocks, n = (depth - 4) / 6
//   layer.{g}.block.{j}.conv_0.weight                  3x3, stride s (group's first block) else 1, no bias
//   layer.{g}.block.{j}.batchnorm_1.*
//   layer.{g}.block.{j}.conv_1.weight                  3x3, stride 1, pad 1, no bias
//   layer.{g}.block.0.shortcut.weight                  1x1, stride s, only when in != out channels
//   batchnorm.*  logits.{weight,bias}
//
// Widths 16 -> 16w -> 32w -> 64w, group strides 1, 2, 2. A block is
//   pre = SiLU(batchnorm_0(x)); out = conv_1(SiLU(batchnorm_1(conv_0(pad(pre)))))
//   return (shortcut ? shortcut(pre) : x) + out
// with pad = (1,1,1,1) for stride 1 and (0,1,0,1) (right/bottom only, TF "SAME")
// for stride 2. Head: SiLU(batchnorm) -> avg_pool2d(8) (32x32 inputs) or global
// average pooling (`autopool`, TinyImageNet 64x64) -> logits.
//
// Forward hooks on the conv modules fire in execution order: conv_0, conv_1,
// then shortcut (CARSO's tap order, carso.md section 2.1).
//
//     const wrn = new WideResNet({ depth: 28, width: 10, classes: 10 }).eval(); // CIFAR-10 normalisation by default
//     const logits = wrn.call(x); // x: [B, 3, 32, 32] in [0, 1] -> [B, 10]
import { tidy, type Tensor } from '../tensor/index.js';
import { BatchNorm2d, Conv2d, Linear, Module, Sequential, SiLU } from '../nn/index.js';
import { CIFAR10_NORM } from './datasets.js';
import { checkNormalization, normalizeInput, type Normalization } from './normalize.js';

export interface WideResNetOptions {
  /** Output classes (default 10). */
  classes?: number;
  /** 6n + 4 (default 28). */
  depth?: number;
  /** Width multiplier w (default 10). */
  width?: number;
  /** Input standardisation inside the model (default CIFAR-10's, as ebtorch); null = none. */
  normalization?: Normalization | null;
  /** Global average pooling instead of avg_pool2d(8), for inputs larger than 32x32 (default false). */
  autopool?: boolean;
  /** Image channels (default 3). */
  inputChannels?: number;
  /** BatchNorm running-statistics momentum (default 0.01, as the CARSO models). */
  bnMomentum?: number;
}

/** One pre-activation block; x: [B, in, H, W] -> [B, out, H/s, W/s]. */
export class WideResNetBlock extends Module {
  readonly batchnorm_0: BatchNorm2d;
  /** NOTE: named relu_* as in ebtorch (module names, no tensors) although the activation is SiLU. */
  readonly relu_0 = new SiLU();
  readonly conv_0: Conv2d;
  readonly batchnorm_1: BatchNorm2d;
  readonly relu_1 = new SiLU();
  readonly conv_1: Conv2d;
  /** 1x1 projection when in != out channels, else null (identity on the raw input). */
  readonly shortcut: Conv2d | null;

  constructor(inChannels: number, outChannels: number, stride: 1 | 2, bnMomentum: number) {
    super();
    // NOTE: registration order = PyTorch's (state-dict order, and the order conv weights draw from the RNG).
    this.batchnorm_0 = this.addModule('batchnorm_0', new BatchNorm2d(inChannels, { momentum: bnMomentum }));
    this.addModule('relu_0', this.relu_0);
    // NOTE: the manual pad of ebtorch (F.pad before a padding-0 conv) is the conv's explicit pad here:
    // same numbers, and conv_0's hook sees the same output (its `input` argument is the unpadded tensor).
    const pad = stride === 1 ? ([1, 1, 1, 1] as const) : ([0, 1, 0, 1] as const);
    this.conv_0 = this.addModule('conv_0', new Conv2d(inChannels, outChannels, 3, { stride, padding: pad, bias: false }));
    this.batchnorm_1 = this.addModule('batchnorm_1', new BatchNorm2d(outChannels, { momentum: bnMomentum }));
    this.addModule('relu_1', this.relu_1);
    this.conv_1 = this.addModule('conv_1', new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false }));
    this.shortcut =
      inChannels === outChannels
        ? null
        : this.addModule('shortcut', new Conv2d(inChannels, outChannels, 1, { stride, bias: false }));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const pre = this.relu_0.call(this.batchnorm_0.call(x));
      const out = this.conv_1.call(this.relu_1.call(this.batchnorm_1.call(this.conv_0.call(pre))));
      // NOTE: the shortcut runs after conv_1, as in PyTorch, so hooks fire conv_0, conv_1, shortcut.
      return (this.shortcut === null ? x : this.shortcut.call(pre)).add(out);
    });
  }
}

/** n blocks, the first changing width and stride; its only child is `block` (a Sequential). */
export class WideResNetGroup extends Module {
  readonly block: Sequential;

  constructor(blocks: number, inChannels: number, outChannels: number, stride: 1 | 2, bnMomentum: number) {
    super();
    this.block = this.addModule('block', new Sequential());
    for (let j = 0; j < blocks; j++)
      this.block.append(new WideResNetBlock(j === 0 ? inChannels : outChannels, outChannels, j === 0 ? stride : 1, bnMomentum));
  }

  forward(x: Tensor): Tensor {
    return this.block.call(x);
  }
}

export class WideResNet extends Module {
  readonly classes: number;
  readonly depth: number;
  readonly width: number;
  readonly normalization: Normalization | null;
  readonly autopool: boolean;
  readonly inputChannels: number;
  /** Channels entering the head (64 w). */
  readonly features: number;
  readonly init_conv: Conv2d;
  /** The three groups, `layer.0` .. `layer.2`. */
  readonly layer: Sequential;
  readonly batchnorm: BatchNorm2d;
  readonly relu = new SiLU();
  readonly logits: Linear;

  constructor(opts: WideResNetOptions = {}) {
    super();
    this.classes = opts.classes ?? 10;
    this.depth = opts.depth ?? 28;
    this.width = opts.width ?? 10;
    this.normalization = opts.normalization === undefined ? CIFAR10_NORM : opts.normalization;
    this.autopool = opts.autopool ?? false;
    this.inputChannels = opts.inputChannels ?? 3;
    const momentum = opts.bnMomentum ?? 0.01;
    const n = blocksPerGroup(this.depth, 'WideResNet');
    for (const [k, v] of [
      ['width', this.width],
      ['classes', this.classes],
      ['inputChannels', this.inputChannels],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new Error(`WideResNet: ${k} must be a positive integer, got ${v}`);
    if (this.normalization !== null) checkNormalization(this.normalization, this.inputChannels, 'WideResNet');

    const ch = [16, 16 * this.width, 32 * this.width, 64 * this.width] as const;
    this.features = ch[3];
    this.init_conv = this.addModule('init_conv', new Conv2d(this.inputChannels, ch[0], 3, { padding: 1, bias: false }));
    this.layer = this.addModule(
      'layer',
      new Sequential(
        new WideResNetGroup(n, ch[0], ch[1], 1, momentum),
        new WideResNetGroup(n, ch[1], ch[2], 2, momentum),
        new WideResNetGroup(n, ch[2], ch[3], 2, momentum),
      ),
    );
    this.batchnorm = this.addModule('batchnorm', new BatchNorm2d(ch[3], { momentum }));
    this.addModule('relu', this.relu);
    this.logits = this.addModule('logits', new Linear(ch[3], this.classes));
  }

  /** x: [B, C_in, H, W] in [0, 1] (H = W = 32, or any size with autopool) -> logits [B, classes]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.layer.call(this.init_conv.call(normalizeInput(x, this.normalization))); // [B, 64w, H/4, W/4]
      const a = this.relu.call(this.batchnorm.call(h));
      const pooled = this.autopool ? a.adaptiveAvgPool2d([1, 1]) : a.avgPool2d(8); // [B, 64w, 1, 1] for 32x32
      // NOTE: flatten(1), not ebtorch's view(-1, 64w): a wrong input size fails in logits instead of mixing samples.
      return this.logits.call(pooled.flatten(1));
    });
  }

  /** The conv modules CARSO taps in this model, in hook order (see `wrnTapNames`). */
  carsoTapNames(): string[] {
    return wrnTapNames(this.depth);
  }
}

/**
 * The conv modules whose outputs CARSO taps (carso.md section 2.1) in a WRN of
 * `depth`, in the order their forward hooks fire: every block's conv_0 and
 * conv_1, plus the shortcut of the first block of groups 1 and 2 (after its
 * conv_1). Not init_conv, not layer.0.block.0.shortcut. 26 names for depth 28.
 */
export function wrnTapNames(depth = 28): string[] {
  const n = blocksPerGroup(depth, 'wrnTapNames');
  return [0, 1, 2].flatMap((g) =>
    Array.from({ length: n }, (_, j) => {
      const at = `layer.${g}.block.${j}`;
      // NOTE: groups 1 and 2 always open with a shortcut (the width doubles); group 0's is never tapped.
      return [`${at}.conv_0`, `${at}.conv_1`, ...(g > 0 && j === 0 ? [`${at}.shortcut`] : [])];
    }).flat(),
  );
}

/** n = (depth - 4) / 6 blocks per group; throws unless depth = 6n + 4 with n >= 1. */
function blocksPerGroup(depth: number, owner: string): number {
  const n = (depth - 4) / 6;
  if (!Number.isInteger(n) || n < 1) throw new Error(`${owner}: depth must be 6n + 4 with n >= 1, got ${depth}`);
  return n;
}

/** The named WRN shapes: depth and width. */
export const WRN_PRESETS = {
  'wrn-28-10': { depth: 28, width: 10 },
  'wrn-16-4': { depth: 16, width: 4 },
} as const satisfies Record<string, { depth: number; width: number }>;
