// Purifier training settings (carso.md 3.4-3.6) as plain data: the reference's
// per-dataset defaults, our documented choice for 28x28 greyscale, validation.
//
//     const config = { ...purifierDefaults('cifar10'), seed: 0 }; // f 0.5, eps 0.06256 / 0.12512, 200 x 640
import { GEOMETRIES } from './geometry.js';
import { referenceTrainingEps } from './objective.js';

export interface PurifierTrainConfig {
  /** Data set name (recorded; the caller loads it). */
  dataset: string;
  epochs: number;
  /** Per-GPU batch size of the reference: the unit the learning rates scale with. */
  batchSize: number;
  /** Perturbed fraction f of each batch. */
  perturbedFraction: number;
  /** Linf radii of the weak and strong training attacks, pixel space. */
  epsWeak: number;
  epsStrong: number;
  pgdSteps: number;
  pgdStepSize: number;
  seed: number;
}

const NOMINAL = { weak: 4 / 255, strong: 8 / 255 };

/**
 * The reference's settings per data set (carso.md 3.4-3.6): f, eps (the released
 * std-rescaled eps for the RGB sets, see referenceTrainingEps), epochs and
 * per-GPU batch. NOTE (our choices for 28x28 greyscale, which the TMLR code does
 * not train): f 0.5 as CIFAR-10; nominal eps 0.1 / 0.2: the evaluation radius and twice it, because the
 * released RGB purifiers also train beyond their evaluation radius (the quirk
 * above: 0.063 / 0.125 for an 8/255 = 0.031 evaluation) and the end-to-end
 * attacks they must survive move the representation further than attacks on the
 * classifier alone; no rescaling (the quirk itself belongs to the RGB launchers;
 * the v1-era MNIST code used 0.15 / 0.3). PGD 10 steps of 0.025 (2.5 eps_weak / 10,
 * instead of 40 of 0.01) and 16 epochs of batch 256: the CPU budget
 * (100-130 s per epoch on one core); the schedule's phases scale with the epochs.
 */
export function purifierDefaults(dataset: string): Omit<PurifierTrainConfig, 'seed'> {
  const common = { dataset, pgdSteps: 40, pgdStepSize: 0.01 };
  const rgb = (
    fraction: number,
    epochs: number,
    batchSize: number,
    std: readonly number[],
  ): Omit<PurifierTrainConfig, 'seed'> => ({
    ...common,
    perturbedFraction: fraction,
    epochs,
    batchSize,
    epsWeak: referenceTrainingEps(NOMINAL.weak, std),
    epsStrong: referenceTrainingEps(NOMINAL.strong, std),
  });
  switch (dataset) {
    case 'cifar10':
      return rgb(0.5, 200, 640, GEOMETRIES.cifar10.normalization.std);
    case 'cifar100':
      return rgb(0.15, 200, 640, GEOMETRIES.cifar100.normalization.std);
    case 'tiny-imagenet':
      return rgb(0.01, 250, 128, GEOMETRIES['tiny-imagenet'].normalization.std);
    default:
      return {
        ...common,
        pgdSteps: 10,
        pgdStepSize: 0.025,
        perturbedFraction: 0.5,
        epochs: 16,
        batchSize: 256,
        epsWeak: 0.1,
        epsStrong: 0.2,
      };
  }
}

/** Every problem with a config, as messages (empty when valid). */
export function purifierConfigErrors(c: PurifierTrainConfig): string[] {
  const errs: string[] = [];
  for (const [k, v] of [
    ['epochs', c.epochs],
    ['batch size', c.batchSize],
    ['PGD steps', c.pgdSteps],
  ] as const)
    if (!Number.isInteger(v) || v < 1) errs.push(`${k} must be a positive integer, got ${v}`);
  if (!(c.perturbedFraction >= 0 && c.perturbedFraction <= 1))
    errs.push(`perturbed fraction must be in [0, 1], got ${c.perturbedFraction}`);
  for (const [k, v] of [
    ['eps weak', c.epsWeak],
    ['eps strong', c.epsStrong],
    ['PGD step', c.pgdStepSize],
  ] as const)
    if (!(v > 0 && v <= 1)) errs.push(`${k} must be in (0, 1], got ${v}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) errs.push(`seed must be a non-negative integer, got ${c.seed}`);
  return errs;
}
