// The checkpoint layout of the CARSO authors' code (emaballarin/CARSO: train_{a,b,c}.py save,
// eval_*.py load), read and written with no renaming by the user. Their classifier file is the
// ebtorch WideResNet state dict, whose names carso's WideResNet already uses; their purifier is
// three files, each one module's state dict (safetensors save_model), the encoder not saved:
//
//   authors' file                              its keys                         carso's Purifier key
//   <classifier>.safetensors                   init_conv.weight,                (WideResNet: the same
//                                              layer.<g>.block.<j>.{batchnorm_0, conv_0,  names, loadModule)
//                                              batchnorm_1, conv_1, shortcut}.*, batchnorm.*, logits.*
//   <base>_repr_compressors.safetensors        <tap>.<block>.{0: conv, 1: BN}.*  repr_compressors.<key>
//   <base>_repr_fcn_compressor.safetensors     1.{0: Linear, 1: BN1d}.*          repr_fcn_compressor.<key>
//   <base>_decoder.safetensors                 0.1.*, {1..4}.{0: ConvT, 1: BN}.*, 5.*   decoder.<key>
//
// (<base> e.g. wrn_28_10_cifar_10_cui_2023.) So the mapping is "prefix the file's part name"; the
// files carry no metadata, and the geometry is inferred from the shapes (authorsGeometry).
//
//     const wrn = createModel('wrn-28-10', { dataset: 'cifar10' });
//     loadModule('models/cifar10_a3_b10_t4_20m_w.safetensors', wrn);              // the classifier
//     const carso = Carso.load(wrn, 'models/wrn_28_10_cifar_10_cui_2023');        // the three purifier files
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { dispose, type Tensor } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import type { Normalization } from '../models/normalize.js';
import { GEOMETRIES, type CarsoGeometry } from './geometry.js';
import type { Purifier } from './purifier.js';

/** The purifier modules the authors save, one file each, in their saving order. */
export const AUTHORS_PARTS = ['repr_compressors', 'repr_fcn_compressor', 'decoder'] as const;
export type AuthorsPart = (typeof AUTHORS_PARTS)[number];

const SUFFIX = (part: AuthorsPart): string => `_${part}.safetensors`;

/** The three files of an authors' purifier: <base>_<part>.safetensors. */
export type AuthorsFiles = Record<AuthorsPart, string>;

/**
 * The authors' purifier files `path` names, or null when it names none: one of the three files,
 * their common prefix <base>, or a folder holding exactly one such set. Throws when a set is
 * incomplete or a folder holds several.
 */
export function authorsFiles(path: string): AuthorsFiles | null {
  let base: string | null = null;
  for (const part of AUTHORS_PARTS) if (path.endsWith(SUFFIX(part))) base = path.slice(0, -SUFFIX(part).length);
  if (base === null && existsSync(path) && statSync(path).isDirectory()) {
    const bases = readdirSync(path)
      .filter((f) => f.endsWith(SUFFIX('decoder')))
      .map((f) => join(path, f.slice(0, -SUFFIX('decoder').length)));
    if (bases.length > 1) throw new Error(`${path} holds several authors' purifiers: ${bases.join(', ')}; name one`);
    base = bases[0] ?? null;
  }
  if (base === null && existsSync(path + SUFFIX('decoder'))) base = path;
  if (base === null) return null;
  const b = base;
  const files = Object.fromEntries(AUTHORS_PARTS.map((p) => [p, b + SUFFIX(p)])) as AuthorsFiles;
  const missing = AUTHORS_PARTS.filter((p) => !existsSync(files[p])).map((p) => files[p]);
  if (missing.length > 0) throw new Error(`the authors' purifier ${b} lacks ${missing.join(', ')}`);
  return files;
}

/** Each part's tensors, keyed as in carso's Purifier (the mapping table above). */
export function readAuthorsPurifier(files: AuthorsFiles): Map<string, Tensor> {
  const all = new Map<string, Tensor>();
  try {
    for (const part of AUTHORS_PARTS) {
      const { tensors } = readSafetensors(files[part]);
      for (const [k, t] of tensors) all.set(`${part}.${k}`, t);
    }
  } catch (err) {
    disposeAll(all); // a corrupt second or third file frees what the first ones gave
    throw err;
  }
  return all;
}

/** What the shapes say about the purifier's geometry. */
interface Shapes {
  channels: number;
  condDim: number;
  latentDim: number;
  compressorConvs: number;
  seed: number;
  finalKernel: number;
  decoderChannels: number[];
}

function shapesOf(t: ReadonlyMap<string, Tensor>): Shapes {
  const shape = (k: string): readonly number[] => {
    const s = t.get(k)?.shape;
    if (s === undefined) throw new Error(`no tensor '${k}'`);
    return s;
  };
  const condDim = shape('repr_fcn_compressor.1.0.weight')[0]!;
  const [rows, inFeatures] = shape('decoder.0.1.weight') as [number, number];
  const decoderChannels = [1, 2, 3, 4].map((i) => shape(`decoder.${i}.0.weight`)[0]!);
  decoderChannels.push(shape('decoder.4.0.weight')[1]!);
  const [, channels, finalKernel] = shape('decoder.5.weight') as [number, number, number];
  const count = (re: RegExp): number => new Set([...t.keys()].map((k) => re.exec(k)?.[1]).filter((v) => v !== undefined)).size;
  return {
    channels,
    condDim,
    latentDim: inFeatures - condDim,
    compressorConvs: count(/^repr_compressors\.0\.(\d+)\.0\.weight$/),
    seed: Math.round(Math.sqrt(rows / decoderChannels[0]!)),
    finalKernel,
    decoderChannels,
  };
}

/** How many tap compressors an authors' purifier has (one per tapped module). */
export function authorsTapCount(t: ReadonlyMap<string, Tensor>): number {
  return new Set([...t.keys()].map((k) => /^repr_compressors\.(\d+)\./.exec(k)?.[1]).filter((v) => v !== undefined)).size;
}

const sameNorm = (a: Normalization, b: Normalization | null | undefined): boolean =>
  b != null && a.mean.join() === b.mean.join() && a.std.join() === b.std.join();

/**
 * The geometry of an authors' purifier (tensors keyed as carso's, readAuthorsPurifier), from its
 * shapes: the GEOMETRIES entry they fit. CIFAR-10 and CIFAR-100 share every shape, so the
 * classifier's normalisation (a WideResNet's, the data set's) picks between them. Throws, saying
 * what the shapes are, when none or several fit.
 */
export function authorsGeometry(t: ReadonlyMap<string, Tensor>, classifier: Module): CarsoGeometry {
  const s = shapesOf(t);
  const fits = Object.entries(GEOMETRIES).filter(
    ([, g]) =>
      g.channels === s.channels &&
      g.condDim === s.condDim &&
      g.latentDim === s.latentDim &&
      g.compressorConvs === s.compressorConvs &&
      g.decoder.seed === s.seed &&
      g.decoder.finalKernel === s.finalKernel &&
      g.decoderChannels.join() === s.decoderChannels.join(),
  );
  const norm = (classifier as { normalization?: Normalization | null }).normalization;
  const picked = fits.length > 1 ? fits.filter(([, g]) => sameNorm(g.normalization, norm)) : fits;
  if (picked.length !== 1) {
    const what = `${s.channels}-channel images, condition ${s.condDim}, latent ${s.latentDim}, ${s.compressorConvs}-conv compressors, decoder seed ${s.seed}, final kernel ${s.finalKernel}`;
    throw new Error(
      fits.length === 0
        ? `no CARSO geometry fits ${what}`
        : `several CARSO geometries fit ${what} (${fits.map(([n]) => n).join(', ')}) and the classifier's normalisation picks none: pass the geometry`,
    );
  }
  return picked[0]![1];
}

/**
 * Loads an authors' purifier (tensors keyed as carso's) into `p`: every non-encoder tensor of `p`
 * must be there with its shape and dtype, and nothing else; the error names the authors' file.
 */
export function loadAuthorsTensors(files: AuthorsFiles, t: ReadonlyMap<string, Tensor>, p: Purifier): void {
  const own = p.entries(false);
  const problems: string[] = [];
  for (const part of AUTHORS_PARTS) {
    const pre = `${part}.`;
    const missing = [...own.keys()].filter((k) => k.startsWith(pre) && !t.has(k));
    const unexpected = [...t.keys()].filter((k) => k.startsWith(pre) && !own.has(k));
    if (missing.length + unexpected.length > 0)
      problems.push(
        `${files[part]}: missing ${missing.map((k) => k.slice(pre.length)).join(', ') || 'none'}; unexpected ${unexpected.map((k) => k.slice(pre.length)).join(', ') || 'none'}`,
      );
  }
  if (problems.length > 0) throw new Error(`the authors' purifier does not fit this CARSO:\n  ${problems.join('\n  ')}`);
  try {
    p.loadStateDict(t, { strict: false });
  } catch (err) {
    throw new Error(`the authors' purifier ${files.decoder.slice(0, -SUFFIX('decoder').length)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Writes `p` as the authors' three files <base>_<part>.safetensors (the table above; atomic each). */
export function saveAuthorsPurifier(base: string, p: Purifier): AuthorsFiles {
  const own = p.entries(false);
  const files = Object.fromEntries(AUTHORS_PARTS.map((part) => [part, base + SUFFIX(part)])) as AuthorsFiles;
  for (const part of AUTHORS_PARTS) {
    const pre = `${part}.`;
    writeSafetensors(files[part], new Map([...own].filter(([k]) => k.startsWith(pre)).map(([k, v]) => [k.slice(pre.length), v])));
  }
  return files;
}

/** Frees tensors read by readAuthorsPurifier. */
export function disposeAll(t: ReadonlyMap<string, Tensor>): void {
  dispose([...t.values()]);
}
