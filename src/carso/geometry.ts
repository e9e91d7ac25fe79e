// The purifier's sizes per data set (carso.md sections 2-3), as data: what the
// reference hard-codes in train_{a,b,c}.py and modelpieces.py, plus a documented
// analogue for 28x28 greyscale images (Fashion-MNIST, MNIST), which the TMLR
// code does not cover.
//
//     const g = GEOMETRIES.cifar10; // 3x32x32, condition 512, latent 128, 3-conv compressors
//     decoderSizes(g);              // [3, 5, 9, 17, 33, 32]
import type { DatasetName } from '../data/index.js';
import { CIFAR100_NORM, CIFAR10_NORM, TINY_IMAGENET_NORM } from '../models/datasets.js';
import type { Normalization } from '../models/normalize.js';
import { FmnistCNN } from '../models/fmnist-cnn.js';
import { WideResNet } from '../models/wide-resnet.js';
import { ScriptModule, type Module } from '../nn/index.js';

/** Channels of the decoder's seed and of its four transposed-conv blocks (every geometry). */
export const DECODER_CHANNELS = [256, 256, 128, 64, 32] as const;

export interface DecoderGeometry {
  /** Side of the 256 x s x s seed the first Linear is reshaped to. */
  readonly seed: number;
  /** output_padding of each of the four ConvTranspose2d(k3, s2, p1) blocks: side -> 2 side - 1 + op. */
  readonly outputPadding: readonly [number, number, number, number];
  /** The last ConvTranspose2d (stride 1, bias) before the Sigmoid: side -> side - 1 - 2 p + k. */
  readonly finalKernel: number;
  readonly finalPadding: number;
}

export interface CarsoGeometry {
  /** Image [channels, size, size] in [0, 1]. */
  readonly channels: number;
  readonly size: number;
  /** Condition vector c (the repr_fcn_compressor's width). */
  readonly condDim: number;
  /** Latent z (the joint FC's width and the neck's). */
  readonly latentDim: number;
  /** Unpadded 3x3 convs per tap compressor (3 CIFAR, 4 Tiny: `compress_more`). */
  readonly compressorConvs: number;
  readonly decoder: DecoderGeometry;
  /** Channels of the decoder's seed and of its four transposed-conv blocks (DECODER_CHANNELS for the reference sets). */
  readonly decoderChannels: readonly number[];
  /** Standardisation of the encoder's image input (data_prep_dispatcher_3ch), and the std of the eps quirk (train.ts). */
  readonly normalization: Normalization;
}

const CIFAR_DECODER: DecoderGeometry = { seed: 3, outputPadding: [0, 0, 0, 0], finalKernel: 2, finalPadding: 1 };
const CIFAR = {
  channels: 3,
  size: 32,
  condDim: 512,
  latentDim: 128,
  compressorConvs: 3,
  decoder: CIFAR_DECODER,
  decoderChannels: DECODER_CHANNELS,
};

// NOTE (28x28 greyscale, our choice; the TMLR code has no such geometry):
// * decoder 256x2x2 -> 4 -> 7 -> 14 -> 28 (output_padding 1, 0, 1, 1), then the Tiny-style
//   k3/p1 ConvTranspose (28 -> 28): the reference's four blocks and channels, landing exactly on 28.
// * condition 512 and latent 128, the CIFAR sizes unchanged: an issue note found a light version
//   (condition 128, latent 32, 3 taps) too weak, and with a quarter of CIFAR's pixels these are 4x
//   as generous per pixel. They cost little: the condition FC runs once per input, and unused
//   latent dimensions are parked at the prior by the KL term.
// * decoder channels 128, 64, 32, 16, 8 instead of 256, 256, 128, 64, 32: what CPU time goes to
//   is the N decoder passes per input of every attack step. With the reference widths one
//   decoder pass was ~53 M multiply-adds, ten times the FmnistCNN it feeds (~5.5 M), so an
//   AutoAttack-rand point cost minutes; these widths give ~3.9 M (measured: bench/carso).
// * ONE unpadded conv per tap compressor: the FmnistCNN's taps are 14x14 to 4x4 (and only 2048 to
//   6272 values each, against 10 240 to 163 840 for the WRN), so they need little compression, and
//   3 convs would leave a 7x7 tap 8 values (4x4 ones could not take them at all). Its four taps
//   (FMNIST_CNN_TAPS) then concatenate to 16x12x12 + 2 x 32x5x5 + 64x2x2 = 4 160 features.
// * encoder standardisation with the usual training-set statistics (the classifiers themselves take
//   raw pixels); the image branch is the reference's 1 -> 2 -> 4 channels (4x7x7 = 196 features).
const GREY_DECODER: DecoderGeometry = { seed: 2, outputPadding: [1, 0, 1, 1], finalKernel: 3, finalPadding: 1 };
const GREY = {
  channels: 1,
  size: 28,
  condDim: 512,
  latentDim: 128,
  compressorConvs: 1,
  decoder: GREY_DECODER,
  decoderChannels: [128, 64, 32, 16, 8],
};

export const GEOMETRIES: { readonly [K in DatasetName]: CarsoGeometry } = {
  cifar10: { ...CIFAR, normalization: CIFAR10_NORM },
  cifar100: { ...CIFAR, normalization: CIFAR100_NORM },
  'tiny-imagenet': {
    channels: 3,
    size: 64,
    condDim: 768,
    latentDim: 192,
    compressorConvs: 4,
    decoder: { seed: 4, outputPadding: [1, 1, 1, 1], finalKernel: 3, finalPadding: 1 },
    decoderChannels: DECODER_CHANNELS,
    normalization: TINY_IMAGENET_NORM,
  },
  'fashion-mnist': { ...GREY, normalization: { mean: [0.286], std: [0.353] } },
  mnist: { ...GREY, normalization: { mean: [0.1307], std: [0.3081] } },
};

/** Spatial side after each decoder stage: seed, the four blocks, the final ConvTranspose (= g.size). */
export function decoderSizes(g: CarsoGeometry): number[] {
  const d = g.decoder;
  const sizes = [d.seed];
  for (const op of d.outputPadding) sizes.push(2 * sizes[sizes.length - 1]! - 1 + op);
  sizes.push(sizes[sizes.length - 1]! - 1 - 2 * d.finalPadding + d.finalKernel);
  return sizes;
}

/** Features of the encoder's image branch: 4C x ceil(ceil(H/2)/2)^2 (CIFAR 768, Tiny 3072, 28x28x1 196). */
export function imageCodeSize(g: CarsoGeometry): number {
  const side = Math.ceil(Math.ceil(g.size / 2) / 2);
  return 4 * g.channels * side * side;
}

/** Throws unless the decoder lands exactly on the image size (a typo in a geometry fails here, not in a loss). */
export function checkGeometry(g: CarsoGeometry): void {
  const sizes = decoderSizes(g);
  if (sizes[sizes.length - 1] !== g.size)
    throw new Error(`CARSO geometry: decoder sides ${sizes.join(' -> ')} do not end at the image size ${g.size}`);
  for (const [k, v] of [
    ['condDim', g.condDim],
    ['latentDim', g.latentDim],
    ['compressorConvs', g.compressorConvs],
  ] as const)
    if (!Number.isInteger(v) || v < 1) throw new Error(`CARSO geometry: ${k} must be a positive integer, got ${v}`);
  const ch = g.decoderChannels;
  if (ch.length !== 5 || !ch.every((c) => Number.isInteger(c) && c >= 1))
    throw new Error(`CARSO geometry: decoderChannels must be 5 positive integers, got [${ch.join(', ')}]`);
  if (g.normalization.mean.length !== g.channels) throw new Error(`CARSO geometry: normalisation needs ${g.channels} channels`);
}

/**
 * The FmnistCNN's tapped convolutions (children 2, 4, 6, 8: 32x14x14, 64x7x7, 64x7x7,
 * 128x4x4 outputs, pre-ReLU). NOTE: every conv but the stem, the WRN rule (which taps
 * every conv but init_conv and the first, stem-side shortcut) applied to this CNN.
 */
export const FMNIST_CNN_TAPS: readonly string[] = ['2', '4', '6', '8'];

/**
 * The tap list CARSO uses for a known classifier (WRN: its 26 / 6n+2 convs; a TorchScript
 * classifier: every tap it reports through forward_taps / tap_names), else null.
 */
export function defaultTapNames(classifier: Module): string[] | null {
  if (classifier instanceof WideResNet) return classifier.carsoTapNames();
  if (classifier instanceof ScriptModule) return classifier.tapNames();
  if (classifier instanceof FmnistCNN) return [...FMNIST_CNN_TAPS];
  return null;
}
