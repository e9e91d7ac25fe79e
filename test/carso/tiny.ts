// A tiny CARSO for fast tests: 1x12x12 images, a 2-conv classifier with 5
// classes (taps '0': 4x12x12 and '2': 6x6x6), condition 6, latent 3, one conv per
// compressor, decoder 1 -> 2 -> 3 -> 6 -> 12 (then k3/p1: 12), reference channels.
import { Conv2d, Flatten, Linear, Sequential, Tanh } from '../../src/nn/index.js';
import { manualSeed, noGrad } from '../../src/tensor/index.js';
import { Carso, DECODER_CHANNELS, type CarsoEvalOptions, type CarsoGeometry, type CarsoOptions } from '../../src/carso/index.js';
import type { EvalResult } from '../../src/eval/result.js';

export const TINY_GEOMETRY: CarsoGeometry = {
  channels: 1,
  size: 12,
  condDim: 6,
  latentDim: 3,
  compressorConvs: 1,
  decoder: { seed: 1, outputPadding: [1, 0, 1, 1], finalKernel: 3, finalPadding: 1 },
  decoderChannels: DECODER_CHANNELS,
  normalization: { mean: [0.5], std: [0.25] },
};
export const TINY_TAPS = ['0', '2'];
export const TINY_CLASSES = 5;

/** x: [B, 1, 12, 12] -> [B, 5]; smooth (tanh) so finite differences behave. */
export function tinyClassifier(): Sequential {
  return new Sequential(
    new Conv2d(1, 4, 3, { padding: 1 }),
    new Tanh(),
    new Conv2d(4, 6, 3, { stride: 2, padding: 1 }),
    new Tanh(),
    new Flatten(),
    new Linear(6 * 6 * 6, TINY_CLASSES),
  );
}

/** A seeded tiny CARSO (classifier and purifier drawn from `seed`). */
export function tinyCarso(seed = 0, o: Partial<CarsoOptions> = {}): Carso {
  manualSeed(seed);
  return new Carso(tinyClassifier(), { geometry: TINY_GEOMETRY, taps: TINY_TAPS, ...o });
}

/** The tiny CARSO of the evaluation tests: a narrow decoder and 2 samples keep an evaluation to seconds. */
export function tinyEvalCarso(): Carso {
  return tinyCarso(1, { samples: 2, geometry: { ...TINY_GEOMETRY, decoderChannels: [8, 8, 4, 4, 2] } });
}

/** evaluateCarso options for tests: every stage of a real run (both protocols), small attack budgets. */
export const TINY_EVAL: Omit<CarsoEvalOptions, 'out'> = {
  eps: 0.1,
  seed: 0,
  finalEvals: 4,
  batchSize: 3,
  dataset: 'tiny',
  first: 0,
  pgdEotPoints: 3,
  eotPoints: 2,
  gridPoints: 2,
  budget: { apgdIters: 10, eot: 3, pgdEotSteps: 10, highEpsSteps: 5, highEpsEot: 2, squareQueries: 50, eotConvergenceIters: 5 },
};

/** An evaluation without its timings (they differ between runs; nothing else may). */
export function withoutTimings(r: EvalResult): unknown {
  return JSON.parse(
    JSON.stringify({
      ...r,
      seconds: 0,
      entries: r.entries.map((e) => ({ ...e, seconds: 0, perAttack: e.perAttack?.map((a) => ({ ...a, seconds: 0 })) })),
    }),
  );
}

/**
 * The tiny evaluation CARSO made to saturate: its classifier's logits x 200, so the sums of exp(l)
 * over the samples differ by far more than float32's ~17 and the reference aggregation is +-inf.
 */
export function saturateTiny(c: Carso): void {
  noGrad(() => c.classifier.namedParameters().forEach(([k, p]) => k.startsWith('5.') && p.mul_(200)));
}

/** The saturated evaluation's options: AutoAttack rand under both protocols only, the NaN early stop after 2 evaluations. */
export const SATURATED_EVAL: Partial<CarsoEvalOptions> = {
  skip: ['carso-pgd-eot', 'carso-high-eps', 'carso-transfer', 'carso-square', 'carso-eot-convergence', 'carso-gradients'],
  stopNonFinite: 2,
};
