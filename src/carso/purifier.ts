// The purifier: everything CARSO trains (carso.md 2.2-3.2), as one Module whose
// children are the reference CARSOWrap's, registered in its construction order
// (so a seeded init draws the same numbers as PyTorch's):
//   input_compressor, repr_compressors, repr_fcn_compressor, joint_fcn_compressor, neck, decoder
// The encoder parts (input_compressor, joint_fcn_compressor, neck) are only used
// in training and are optional. Files: safetensors with these key names and the
// geometry in the metadata; the encoder is left out unless asked for, as the
// reference saves only repr_compressors, repr_fcn_compressor and decoder.
import { cat, dispose, tidy, type Tensor } from '../tensor/index.js';
import { Module, type Sequential } from '../nn/index.js';
import { readSafetensors, writeSafetensors, type SafetensorsContent } from '../io/index.js';
import { FlatCatCompressor, TapCompressors } from './compressor.js';
import { Decoder, DuplexLinearNeck, makeInputCompressor } from './cvae.js';
import { checkGeometry, imageCodeSize, type CarsoGeometry } from './geometry.js';
import { PURIFIER_FORMAT, purifierInfo, type PurifierFileInfo } from './purifier-file.js';
import { namingFile } from '../util/fs.js';

export { purifierInfo, checkPurifierFile, type PurifierFileInfo } from './purifier-file.js';
const ENCODER_PARTS = ['input_compressor', 'joint_fcn_compressor', 'neck'] as const;
const isEncoderKey = (k: string): boolean => ENCODER_PARTS.some((p) => k.startsWith(`${p}.`));

export interface PurifierOptions {
  geometry: CarsoGeometry;
  /** Each tap's [C, H, W], in tap (execution) order. */
  tapShapes: readonly (readonly number[])[];
  /** Build the training-only encoder (default true). */
  encoder?: boolean;
}

interface Encoder {
  input_compressor: Sequential;
  joint_fcn_compressor: FlatCatCompressor;
  neck: DuplexLinearNeck;
}

export class Purifier extends Module {
  readonly geometry: CarsoGeometry;
  readonly tapShapes: readonly (readonly number[])[];
  readonly repr_compressors: TapCompressors;
  readonly repr_fcn_compressor: FlatCatCompressor;
  readonly decoder: Decoder;
  private readonly enc: Encoder | null;

  constructor(o: PurifierOptions) {
    super();
    const g = o.geometry;
    checkGeometry(g);
    this.geometry = g;
    this.tapShapes = o.tapShapes.map((s) => [...s]);
    const withEncoder = o.encoder ?? true;
    const input = withEncoder ? this.addModule('input_compressor', makeInputCompressor(g.channels)) : null;
    this.repr_compressors = this.addModule('repr_compressors', new TapCompressors(this.tapShapes, g.compressorConvs));
    this.repr_fcn_compressor = this.addModule(
      'repr_fcn_compressor',
      new FlatCatCompressor(this.repr_compressors.outFeatures, g.condDim),
    );
    this.enc =
      input === null
        ? null
        : {
            input_compressor: input,
            joint_fcn_compressor: this.addModule(
              'joint_fcn_compressor',
              new FlatCatCompressor(imageCodeSize(g) + g.condDim, g.latentDim),
            ),
            neck: this.addModule('neck', new DuplexLinearNeck(g.latentDim, g.latentDim)),
          };
    this.decoder = this.addModule('decoder', new Decoder(g));
  }

  get hasEncoder(): boolean {
    return this.enc !== null;
  }

  /** Condition vector: taps[i]: [B, C_i, H_i, W_i] -> c: [B, condDim]. */
  condition(taps: readonly Tensor[]): Tensor {
    return tidy(() => this.repr_fcn_compressor.call(this.repr_compressors.compress(taps)));
  }

  /** Posterior parameters: xStd: [B, C, H, W] (standardised), c: [B, condDim] -> mu, logvar: [B, latentDim]. */
  encode(xStd: Tensor, c: Tensor): { mu: Tensor; logvar: Tensor } {
    const e = this.enc;
    if (e === null) throw new Error('Purifier.encode: this purifier was built without its encoder (encoder: false)');
    return tidy(() => e.neck.heads(e.joint_fcn_compressor.concatCall([e.input_compressor.call(xStd), c])));
  }

  /** Reconstruction: z: [M, latentDim], c: [M, condDim] -> [M, C, H, W] in (0, 1); decoder input [z, c] (z first). */
  decode(z: Tensor, c: Tensor): Tensor {
    return tidy(() => this.decoder.call(cat([z, c], 1)));
  }

  forward(_x: Tensor): Tensor {
    throw new Error('Purifier has no single-tensor forward: use condition(), encode() and decode() (or Carso)');
  }

  /** Parameters and buffers by name, without the encoder's unless `encoder`. */
  entries(encoder: boolean): Map<string, Tensor> {
    return new Map([...this.stateDict()].filter(([k]) => encoder || !isEncoderKey(k)));
  }
}

export interface SavePurifierOptions {
  /** Include the encoder's tensors (default false, as the reference). */
  encoder?: boolean;
  /** The classifier's tapped module names, recorded for loading. */
  taps?: readonly string[];
  /** More string metadata (e.g. the training recipe). */
  metadata?: Record<string, string>;
}

/** Writes the purifier atomically, geometry and tap names in the metadata. */
export function savePurifier(path: string, p: Purifier, o: SavePurifierOptions = {}): void {
  const encoder = (o.encoder ?? false) && p.hasEncoder;
  const info: PurifierFileInfo = {
    geometry: p.geometry,
    tapShapes: p.tapShapes.map((s) => [...s]),
    taps: o.taps ? [...o.taps] : null,
    encoder,
  };
  writeSafetensors(path, p.entries(encoder), { ...o.metadata, format: PURIFIER_FORMAT, purifier: JSON.stringify(info) });
}

/** The metadata of a purifier file (to build a matching Purifier before loading it). NOTE: reads the whole file. */
export function readPurifierInfo(path: string): PurifierFileInfo {
  const { tensors, metadata } = readSafetensors(path);
  dispose([...tensors.values()]);
  return namingFile('readPurifierInfo', path, () => purifierInfo(path, metadata));
}

/**
 * Loads a purifier file into `p`: every non-encoder tensor must be present with
 * its shape; the encoder's are loaded when both the file and `p` have them.
 * `content` is the file already read (its tensors are freed here either way).
 */
export function loadPurifier(path: string, p: Purifier, content: SafetensorsContent = readSafetensors(path)): PurifierFileInfo {
  const { tensors, metadata } = content;
  try {
    const info = purifierInfo(path, metadata);
    const own = p.entries(p.hasEncoder);
    const missing = [...p.entries(false).keys()].filter((k) => !tensors.has(k));
    const unexpected = [...tensors.keys()].filter((k) => !own.has(k) && !(isEncoderKey(k) && !p.hasEncoder));
    if (missing.length > 0 || unexpected.length > 0)
      throw new Error(`missing: ${missing.join(', ') || 'none'}; unexpected: ${unexpected.join(', ') || 'none'}`);
    p.loadStateDict(new Map([...tensors].filter(([k]) => own.has(k))), { strict: false });
    return info;
  } catch (err) {
    throw new Error(`loadPurifier: ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    dispose([...tensors.values()]);
  }
}
