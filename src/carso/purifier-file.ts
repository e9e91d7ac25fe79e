// What a purifier file declares, checked before anything is built from it: the
// JSON description in its metadata (geometry, tap shapes and names, encoder)
// field by field, and every size the geometry gives the modules against the
// shapes of the file's own tensors. NOTE: so a corrupt or hostile header
// (a latent of 1e9, a 65536-pixel image) is refused with an Error naming the
// file, instead of allocating far more than the file holds.
import type { Tensor } from '../tensor/index.js';
import { compressedShape } from './compressor.js';
import { checkGeometry, imageCodeSize, type CarsoGeometry } from './geometry.js';

export const PURIFIER_FORMAT = 'carso-purifier/1';

/** What a purifier file records besides its tensors. */
export interface PurifierFileInfo {
  geometry: CarsoGeometry;
  tapShapes: number[][];
  /** The classifier's tapped module names, when the writer knew them. */
  taps: string[] | null;
  /** Whether the encoder's tensors are in the file. */
  encoder: boolean;
}

const isPosInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ints = (v: unknown, n: number, ok: (x: unknown) => boolean): v is number[] =>
  Array.isArray(v) && v.length === n && v.every(ok);

/** The fields of a geometry, each with its type; throws naming the first bad one. */
function checkGeometryJson(g: unknown): asserts g is CarsoGeometry {
  if (!isObject(g)) throw new Error('geometry is not an object');
  for (const k of ['channels', 'size', 'condDim', 'latentDim', 'compressorConvs'])
    if (!isPosInt(g[k])) throw new Error(`geometry.${k} is ${JSON.stringify(g[k])}, not a positive integer`);
  const d = g['decoder'];
  if (!isObject(d) || !isPosInt(d['seed']) || !isPosInt(d['finalKernel']) || !Number.isSafeInteger(d['finalPadding']))
    throw new Error(`geometry.decoder ${JSON.stringify(d)} lacks seed, finalKernel or finalPadding`);
  // NOTE: ConvTranspose2d(stride 2) takes output padding 0 or 1 only; padding beyond the kernel is meaningless.
  if (!ints(d['outputPadding'], 4, (x) => x === 0 || x === 1) || (d['finalPadding'] as number) < 0)
    throw new Error(`geometry.decoder: outputPadding must be four 0/1 values and finalPadding >= 0`);
  if (!ints(g['decoderChannels'], 5, isPosInt)) throw new Error('geometry.decoderChannels is not 5 positive integers');
  const n = g['normalization'];
  const finite = (x: unknown): boolean => Number.isFinite(x);
  if (!isObject(n) || !ints(n['mean'], g['channels'] as number, finite) || !ints(n['std'], g['channels'] as number, finite))
    throw new Error(`geometry.normalization needs a mean and std per channel`);
  checkGeometry(g as unknown as CarsoGeometry);
}

/** The purifier description in a file's metadata, every field checked; throws for any other kind of file. */
export function purifierInfo(path: string, metadata: Readonly<Record<string, string>>): PurifierFileInfo {
  if (metadata['format'] !== PURIFIER_FORMAT)
    throw new Error(`${path}: not a CARSO purifier file (format '${metadata['format'] ?? 'none'}')`);
  try {
    const info = JSON.parse(metadata['purifier'] ?? 'null') as unknown;
    if (!isObject(info)) throw new Error('no purifier description');
    checkGeometryJson(info['geometry']);
    const shapes = info['tapShapes'];
    if (!Array.isArray(shapes) || !shapes.every((s) => ints(s, 3, isPosInt)))
      throw new Error('tapShapes is not a list of [C, H, W]');
    const taps = info['taps'];
    if (taps !== null && !(Array.isArray(taps) && taps.every((t) => typeof t === 'string')))
      throw new Error('taps is not a list of module names');
    if (typeof info['encoder'] !== 'boolean') throw new Error('encoder is not true or false');
    return info as unknown as PurifierFileInfo;
  } catch (err) {
    throw new Error(`${path}: purifier metadata: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Throws unless the file's tensors have the shapes the geometry gives its modules
 * (the decoder's always, the encoder's when the file has it, the condition FC's from
 * the recorded tap shapes), and one [C, size, size] image is smaller than the file.
 */
export function checkPurifierFile(path: string, info: PurifierFileInfo, tensors: ReadonlyMap<string, Tensor>): void {
  const g = info.geometry;
  const ch = g.decoderChannels;
  const [s, k] = [g.decoder.seed, g.decoder.finalKernel];
  const features = info.tapShapes.reduce((sum, t) => sum + compressedShape(t, g.compressorConvs).reduce((a, b) => a * b, 1), 0);
  const expected: [string, number[]][] = [
    ['decoder.0.1.weight', [ch[0]! * s * s, g.latentDim + g.condDim]],
    ...[0, 1, 2, 3].map((i): [string, number[]] => [`decoder.${i + 1}.0.weight`, [ch[i]!, ch[i + 1]!, 3, 3]]),
    ['decoder.5.weight', [ch[4]!, g.channels, k, k]],
    ['repr_fcn_compressor.1.0.weight', [g.condDim, features]],
  ];
  if (info.encoder)
    expected.push(
      ['neck.x_to_mu.weight', [g.latentDim, g.latentDim]],
      ['joint_fcn_compressor.1.0.weight', [g.latentDim, imageCodeSize(g) + g.condDim]],
    );
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (t === undefined || JSON.stringify(t.shape) !== JSON.stringify(shape))
      throw new Error(
        `${path}: the geometry needs ${name} of [${shape.join(', ')}], the file has ${t === undefined ? 'none' : `[${t.shape.join(', ')}]`}`,
      );
  }
  const held = [...tensors.values()].reduce((a, t) => a + t.numel, 0);
  if (g.channels * g.size * g.size > held)
    throw new Error(`${path}: a ${g.channels}x${g.size}x${g.size} image is larger than the whole file (${held} numbers)`);
}
