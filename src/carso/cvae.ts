// The conditional VAE's pieces (carso.md 3.1-3.2; modelpieces.py and ebtorch's
// DuplexLinearNeck / GaussianReparameterizerSampler), named as the reference:
//   input_compressor.{0,1}.{0: Conv2d, 1: BatchNorm2d}.*     encoder image branch
//   neck.{x_to_mu, x_to_log_var}.{weight, bias}              latent heads
//   decoder.0.1.{weight, bias}                               adapter Linear ([z, c] -> 256 s s)
//   decoder.{1..4}.{0: ConvTranspose2d, 1: BatchNorm2d}.*    upsampling blocks
//   decoder.5.{weight, bias}                                 final ConvTranspose2d, then Sigmoid (decoder.6)
// (the joint FC of the encoder is a FlatCatCompressor, compressor.ts).
import { cat, randnLike, tidy, type Tensor } from '../tensor/index.js';
import { BatchNorm2d, ConvTranspose2d, LeakyReLU, Linear, Module, Sequential, Sigmoid } from '../nn/index.js';
import { LEAKY_SLOPE, convBlock } from './compressor.js';
import type { CarsoGeometry } from './geometry.js';

/** make_img_compressor: x: [B, C, H, W] (standardised) -> [B, 4C, ceil(ceil(H/2)/2), same]. */
export function makeInputCompressor(channels: number): Sequential {
  return new Sequential(
    convBlock(channels, 2 * channels, 3, { stride: 2, padding: 1 }),
    convBlock(2 * channels, 4 * channels, 3, { stride: 2, padding: 1 }),
  );
}

/** Two separate Linear(d -> d, bias) heads: mu and log sigma^2. */
export class DuplexLinearNeck extends Module {
  readonly x_to_mu: Linear;
  readonly x_to_log_var: Linear;

  constructor(inDim: number, latentDim: number) {
    super();
    this.x_to_mu = this.addModule('x_to_mu', new Linear(inDim, latentDim));
    this.x_to_log_var = this.addModule('x_to_log_var', new Linear(inDim, latentDim));
  }

  /** h: [B, in] -> mu, logvar: [B, d] each. */
  heads(h: Tensor): { mu: Tensor; logvar: Tensor } {
    return { mu: this.x_to_mu.call(h), logvar: this.x_to_log_var.call(h) };
  }

  /** h: [B, in] -> [B, 2d] = [mu | logvar] (the single-tensor form; use heads()). */
  forward(h: Tensor): Tensor {
    return tidy(() => {
      const { mu, logvar } = this.heads(h);
      return cat([mu, logvar], 1);
    });
  }
}

/** z = mu + eps * exp(logvar / 2), eps ~ N(0, I) unless given (training only: inference samples the prior). */
export function reparameterize(mu: Tensor, logvar: Tensor, eps?: Tensor): Tensor {
  return tidy(() => mu.add((eps ?? randnLike(mu)).mul(logvar.mul(0.5).exp())));
}

/** _make_decoder_adapter: [M, d + cond] -> Linear(bias) -> LeakyReLU -> [M, channels, s, s] (children '1', '2' as the reference). */
export class DecoderAdapter extends Module {
  readonly linear: Linear;
  readonly act = new LeakyReLU(LEAKY_SLOPE);

  constructor(
    inFeatures: number,
    readonly seed: number,
    readonly channels: number,
  ) {
    super();
    this.linear = this.addModule('1', new Linear(inFeatures, channels * seed * seed));
    this.addModule('2', this.act);
  }

  forward(zc: Tensor): Tensor {
    return tidy(() => this.act.call(this.linear.call(zc)).view(zc.size(0), this.channels, this.seed, this.seed));
  }
}

/** ConvTranspose2d(k3, s2, p1, output_padding, no bias) -> BatchNorm2d -> LeakyReLU(0.2): side -> 2 side - 1 + op. */
export function deconvBlock(cin: number, cout: number, outputPadding: number): Sequential {
  return new Sequential(
    new ConvTranspose2d(cin, cout, 3, { stride: 2, padding: 1, outputPadding, bias: false }),
    new BatchNorm2d(cout),
    new LeakyReLU(LEAKY_SLOPE),
  );
}

/**
 * make_decoder_cifar / make_decoder_tiny, and the 28x28 analogue (geometry.ts):
 * zc = [z, c]: [M, latent + cond] -> image [M, C, size, size] in (0, 1).
 */
export class Decoder extends Sequential {
  constructor(g: CarsoGeometry) {
    const ch = g.decoderChannels;
    super(new DecoderAdapter(g.latentDim + g.condDim, g.decoder.seed, ch[0]!));
    g.decoder.outputPadding.forEach((op, i) => this.append(deconvBlock(ch[i]!, ch[i + 1]!, op)));
    const last = ch[ch.length - 1]!;
    this.append(new ConvTranspose2d(last, g.channels, g.decoder.finalKernel, { padding: g.decoder.finalPadding }));
    this.append(new Sigmoid());
  }
}
