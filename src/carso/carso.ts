// CARSO (carso.md sections 4 and 6): a frozen classifier f plus a purifier.
// Inference, for x: [B, C, H, W] in [0, 1]:
//   taps of f(x) -> compressors -> c: [B, cond]
//   z_i ~ N(0, I) (i = 1..N; N = 0: one z = 0), all N B reconstructions decoded
//   and classified by f in ONE batched call -> l: [N, B, K] -> aggregation -> [B, K]
// Differentiable in x along x -> f's convs -> taps -> compressors -> c -> decoder
// -> f -> aggregation (f's own logits on x are discarded). z does not depend on
// x, so attacks treat it as exogenous noise (EOT): `stochastic` is true.
// Training (forwardTrain) instead runs the encoder on the (perturbed) input and
// samples the posterior by reparameterisation (section 3).
//
//     const carso = Carso.load(wrn, 'runs/p/purifier.safetensors'); // or new Carso(wrn, { geometry, taps })
//     const logits = carso.eval().forward(x); // [B, 10]; pass `carso` to any attack
import { dispose, noGrad, randn, tidy, zeros, type Tensor } from '../tensor/index.js';
import { readSafetensors } from '../io/index.js';
import type { Module } from '../nn/index.js';
import type { Model } from '../attacks/types.js';
import { normalizeInput } from '../models/normalize.js';
import { aggregate, type Aggregation } from './aggregation.js';
import { reparameterize } from './cvae.js';
import { defaultTapNames, type CarsoGeometry } from './geometry.js';
import {
  authorsFiles,
  authorsGeometry,
  authorsTapCount,
  disposeAll,
  loadAuthorsTensors,
  readAuthorsPurifier,
  type AuthorsFiles,
} from './authors.js';
import { Purifier, checkPurifierFile, loadPurifier, purifierInfo } from './purifier.js';
import { namingFile } from '../util/fs.js';
import { Taps } from './taps.js';

export interface CarsoOptions {
  geometry: CarsoGeometry;
  /** The classifier's tapped module names (e.g. defaultTapNames(classifier)). */
  taps: readonly string[];
  /** Latent samples per input at inference (default 8; 0 = one deterministic z = 0). */
  samples?: number;
  /** Default 'peel' (the stable form; see aggregation.ts). */
  aggregation?: Aggregation;
  /** Build the training-only encoder (default true). */
  encoder?: boolean;
  /** The tap shapes the purifier must fit (a file's): checked against the classifier's before the purifier is built. */
  tapShapes?: readonly (readonly number[])[];
  /**
   * Reconstructions per batched call when EOT draws are batched (forwardDraws).
   * Default: one draw per call. NOTE: on CPU batching is slower: 20 draws of 50
   * points with N = 8 in one call (8 000 rows) took 13-16 ms per point-draw against
   * 6-7 ms one draw at a time (fmnist-cnn, 1 thread): the activations outgrow the
   * caches. Raise it on a GPU, where a few large calls beat many small ones.
   */
  rowsPerCall?: number;
}

/** Carso.load's options; geometry, taps and encoder matter only for the authors' files (authors.ts). */
export interface CarsoLoadOptions extends Pick<CarsoOptions, 'samples' | 'aggregation' | 'rowsPerCall'> {
  /** The geometry, when the shapes and the classifier's normalisation do not settle it. */
  geometry?: CarsoGeometry;
  /** The tapped modules (default defaultTapNames(classifier): a WideResNet's 26 convs). */
  taps?: readonly string[];
  /** Also build the encoder, which the authors do not save (untrained; default false). */
  encoder?: boolean;
}

export interface TrainOutput {
  /** [B, C, H, W] in (0, 1) */
  xHat: Tensor;
  /** [B, latent] each */
  mu: Tensor;
  logvar: Tensor;
}

export class Carso implements Model {
  readonly stochastic = true;
  readonly purifier: Purifier;
  readonly geometry: CarsoGeometry;
  samples: number;
  aggregation: Aggregation;
  rowsPerCall: number | null;
  private readonly taps: Taps;

  /**
   * Freezes `classifier` (eval mode, no parameter gradients: it is never trained
   * here) and builds the purifier from the tap shapes of a dummy forward.
   */
  constructor(
    readonly classifier: Module,
    o: CarsoOptions,
  ) {
    this.geometry = o.geometry;
    this.samples = o.samples ?? 8;
    this.aggregation = o.aggregation ?? 'peel';
    this.rowsPerCall = o.rowsPerCall ?? null;
    if (!Number.isInteger(this.samples) || this.samples < 0)
      throw new Error(`Carso: samples must be an integer >= 0, got ${this.samples}`);
    classifier.eval().requiresGrad_(false);
    this.taps = new Taps(classifier, o.taps);
    const g = o.geometry;
    // NOTE: zeros, not the reference's th.rand, so building CARSO leaves the RNG stream alone.
    const tapShapes = noGrad(() =>
      tidy(() => this.taps.capture(zeros([1, g.channels, g.size, g.size])).taps.map((t) => t.shape.slice(1))),
    );
    if (o.tapShapes !== undefined && JSON.stringify(tapShapes) !== JSON.stringify(o.tapShapes)) {
      this.taps.remove(); // the classifier is the caller's: leave it without our hooks
      throw new Error(`Carso: taps of [${o.tapShapes.join('], [')}] expected, this classifier gives [${tapShapes.join('], [')}]`);
    }
    this.purifier = new Purifier({ geometry: g, tapShapes, encoder: o.encoder ?? true });
  }

  /**
   * A CARSO whose purifier is read from `path`, in eval mode: a file written by savePurifier /
   * train-purifier (geometry and tap names from its metadata; read once), or the CARSO authors'
   * three files (one of them, their common prefix, or their folder; authors.ts), whose geometry
   * is inferred from the shapes and whose taps are the classifier's default ones.
   */
  static load(classifier: Module, path: string, o: CarsoLoadOptions = {}): Carso {
    const authors = authorsFiles(path);
    return authors === null ? Carso.loadOwn(classifier, path, o) : Carso.loadAuthors(classifier, authors, o);
  }

  private static loadOwn(classifier: Module, path: string, o: CarsoLoadOptions): Carso {
    const content = readSafetensors(path);
    let carso: Carso | undefined;
    try {
      return namingFile('Carso.load', path, () => {
        const info = purifierInfo(path, content.metadata);
        if (info.taps === null) throw new Error(`${path} does not name its taps`);
        checkPurifierFile(path, info, content.tensors);
        const opts = { ...o, geometry: info.geometry, taps: info.taps, encoder: info.encoder, tapShapes: info.tapShapes };
        carso = new Carso(classifier, opts);
        loadPurifier(path, carso.purifier, content);
        // a loaded purifier is for inference: BatchNorms on their running statistics
        return carso.eval();
      });
    } catch (err) {
      dispose([...content.tensors.values()]);
      carso?.dispose();
      throw err;
    }
  }

  private static loadAuthors(classifier: Module, files: AuthorsFiles, o: CarsoLoadOptions): Carso {
    const tensors = readAuthorsPurifier(files);
    let carso: Carso | undefined;
    try {
      const geometry = o.geometry ?? authorsGeometry(tensors, classifier);
      const taps = o.taps ?? defaultTapNames(classifier);
      const count = authorsTapCount(tensors);
      if (taps === null || taps.length !== count)
        throw new Error(
          `${files.repr_compressors} has ${count} tap compressors; ${taps === null ? `a ${classifier.constructor.name} has no default taps` : `${o.taps ? 'the taps given are' : "the classifier's default taps are"} ${taps.length}`}: pass the taps`,
        );
      const { samples, aggregation, rowsPerCall } = o;
      carso = new Carso(classifier, { samples, aggregation, rowsPerCall, geometry, taps, encoder: o.encoder ?? false });
      loadAuthorsTensors(files, tensors, carso.purifier);
    } catch (err) {
      carso?.dispose();
      throw new Error(`Carso.load: ${(err as Error).message}`, { cause: err });
    } finally {
      disposeAll(tensors);
    }
    return carso.eval();
  }

  /** The tapped module names, in execution order. */
  get tapNames(): readonly string[] {
    return this.taps.names;
  }

  /** What the optimiser trains: the purifier's parameters only (never the classifier's). */
  purifierParameters(): Tensor[] {
    return this.purifier.parameters();
  }

  /** Purifier BatchNorms on batch statistics (training); the classifier stays in eval mode. */
  train(on = true): this {
    this.purifier.train(on);
    this.classifier.eval();
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** x: [B, C, H, W] in [0, 1] -> c: [B, cond], differentiable w.r.t. x when recording gradients. */
  condition(x: Tensor): Tensor {
    this.classifier.eval();
    return tidy(() => this.purifier.condition(this.taps.capture(x).taps));
  }

  /** Model interface: aggregated logits [B, K] with fresh prior samples. Needs eval mode. */
  forward(x: Tensor): Tensor {
    return this.forwardWithLatents(x, this.drawLatents(x));
  }

  /** N prior samples for x: [N, draws B, latent] ~ N(0, I), or zeros [1, draws B, latent] when samples = 0. */
  drawLatents(x: Tensor, draws = 1): Tensor {
    const shape = [Math.max(1, this.samples), draws * x.size(0), this.geometry.latentDim];
    return this.samples === 0 ? zeros(shape, x.dtype, x.device) : randn(shape, x.dtype, x.device);
  }

  /** As forward, with the latents given: z: [N, B, latent] (e.g. fixed for gradient checks). */
  forwardWithLatents(x: Tensor, z: Tensor): Tensor {
    this.checkLatents(x, z, 1);
    return tidy(() => this.purify(this.condition(x), z));
  }

  /**
   * `draws` independent forwards in one batched call (the Model hook EOT uses):
   * logits [draws, B, K]. The classifier's pass on x and the condition c are
   * computed once and shared, as they do not depend on the latents; each draw
   * has its own N latents (given as z: [N, draws B, latent], draw-major, or drawn).
   */
  forwardDraws(x: Tensor, draws: number, z?: Tensor): Tensor {
    const B = x.size(0);
    return tidy(() => {
      const zz = z ?? this.drawLatents(x, draws);
      this.checkLatents(x, zz, draws);
      const c = this.condition(x);
      const cD = c.repeat(draws, 1); // [draws B, cond], draw-major
      return this.purify(cD, zz).view(draws, B, -1);
    });
  }

  /** EOT draws per forwardDraws call for `batch` inputs: rowsPerCall / (batch N), at least 1. */
  drawsPerCall(batch: number): number {
    if (this.rowsPerCall === null) return 1;
    return Math.max(1, Math.floor(this.rowsPerCall / (batch * Math.max(1, this.samples))));
  }

  private checkLatents(x: Tensor, z: Tensor, draws: number): void {
    if (this.purifier.training)
      throw new Error('Carso.forward: purifier in training mode; call eval() (training uses forwardTrain)');
    const rows = draws * x.size(0);
    if (z.ndim !== 3 || z.size(1) !== rows || z.size(2) !== this.geometry.latentDim)
      throw new Error(`Carso: latents must be [N, ${rows}, ${this.geometry.latentDim}], got [${z.shape.join(', ')}]`);
  }

  /** c: [M, cond], z: [N, M, latent] -> the aggregated logits [M, K] of the N reconstructions per row. */
  private purify(c: Tensor, z: Tensor): Tensor {
    const [N, M, d] = z.shape as [number, number, number];
    const cN = c
      .unsqueeze(0)
      .expand(N, M, c.size(1))
      .reshape(N * M, -1);
    const xHat = this.purifier.decode(z.reshape(N * M, d), cN); // [N M, C, H, W], sample-major
    const logits = this.classifier.call(xHat); // [N M, K]
    return aggregate(logits.view(N, M, -1), this.aggregation);
  }

  /**
   * The training forward (carso.md 3.3-3.4): the representation of xTilde under
   * noGrad, the encoder on standardised xTilde, z = mu + sigma eps, decode [z, c].
   */
  forwardTrain(xTilde: Tensor, eps?: Tensor): TrainOutput {
    this.classifier.eval();
    return tidy(() => {
      const taps = noGrad(() => this.taps.capture(xTilde).taps);
      const c = this.purifier.condition(taps);
      const { mu, logvar } = this.purifier.encode(normalizeInput(xTilde, this.geometry.normalization), c);
      return { xHat: this.purifier.decode(reparameterize(mu, logvar, eps), c), mu, logvar };
    });
  }

  /** Detaches the hooks and frees the purifier (the classifier is the caller's). */
  dispose(): void {
    this.taps.remove();
    this.purifier.dispose();
  }
}
