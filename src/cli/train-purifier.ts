// `carso train-purifier`: train CARSO's purifier on a frozen classifier (carso.md
// section 3). Wire it into src/cli/main.ts with `registerTrainPurifier(program)`.
//
//     carso train-purifier --dataset fashion-mnist --classifier-weights runs/at/model.safetensors --out runs/carso
import { join } from 'node:path';
import type { Command } from 'commander';
import { DATASET_NAMES, loadDataset, type DatasetName } from '../data/index.js';
import { modelNames } from '../models/index.js';
import { manualSeed, resolveDevice, setNumThreads } from '../tensor/index.js';
import { choice, epsilon, nonNegative, nonNegativeInt, positiveInt, THREADS_HELP } from './options.js';
import { WEIGHTS_HELP, loadClassifier } from './classifier.js';
import { Carso } from '../carso/carso.js';
import { GEOMETRIES, defaultTapNames } from '../carso/geometry.js';
import {
  BETA_SCHEDULES,
  E2E_ATTACKS,
  PAPER_EXTRAS,
  purifierConfigErrors,
  purifierDefaults,
  type BetaSchedule,
  type EndToEndAttack,
  type PurifierTrainConfig,
} from '../carso/config.js';
import { purifierCommand, trainPurifier } from '../carso/train.js';
import { addDistOptions, joinGroup, type DistFlags } from './dist.js';

interface Flags extends DistFlags {
  dataset: DatasetName;
  dataDir?: string;
  classifier?: string;
  classifierWeights: string;
  taps?: string[];
  epochs?: number;
  batchSize?: number;
  perturbedFraction?: number;
  epsWeak?: number;
  epsStrong?: number;
  pgdSteps?: number;
  pgdStep?: number;
  e2eFraction?: number;
  e2eAttack?: EndToEndAttack;
  e2eEps?: number;
  e2eSteps?: number;
  e2eStep?: number;
  e2eLoss?: 'dlr' | 'ce';
  e2eSamples?: number;
  betaSchedule?: BetaSchedule;
  freeBits?: number;
  classWeight?: number;
  seed: number;
  limit?: number;
  threads?: number;
  device: string;
  out: string;
  resume?: boolean;
  saveEncoder?: boolean;
}

const names = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** The run's configuration: the data set's defaults (purifierDefaults) overridden by the flags given. */
function configOf(f: Flags): PurifierTrainConfig {
  const d = purifierDefaults(f.dataset);
  return {
    ...d,
    epochs: f.epochs ?? d.epochs,
    batchSize: f.batchSize ?? d.batchSize,
    perturbedFraction: f.perturbedFraction ?? d.perturbedFraction,
    epsWeak: f.epsWeak ?? d.epsWeak,
    epsStrong: f.epsStrong ?? d.epsStrong,
    pgdSteps: f.pgdSteps ?? d.pgdSteps,
    pgdStepSize: f.pgdStep ?? d.pgdStepSize,
    e2eFraction: f.e2eFraction ?? d.e2eFraction,
    e2eAttack: f.e2eAttack ?? d.e2eAttack,
    e2eEps: f.e2eEps ?? d.e2eEps,
    e2eSteps: f.e2eSteps ?? d.e2eSteps,
    e2eStep: f.e2eStep ?? d.e2eStep,
    e2eLoss: f.e2eLoss ?? d.e2eLoss,
    e2eSamples: f.e2eSamples ?? d.e2eSamples,
    betaSchedule: f.betaSchedule ?? d.betaSchedule,
    freeBits: f.freeBits ?? d.freeBits,
    classWeight: f.classWeight ?? d.classWeight,
    seed: f.seed,
  };
}

export function registerTrainPurifier(program: Command): void {
  addDistOptions(program.command('train-purifier'))
    .description("train CARSO's purifier (compressors, cVAE) on a frozen classifier, as the TMLR reference")
    .option('--dataset <name>', `dataset (${DATASET_NAMES.join(', ')})`, choice(DATASET_NAMES), 'fashion-mnist')
    .option('--data-dir <dir>', 'dataset folder (default: the standard location)')
    .option(
      '--classifier <name>',
      `architecture of a state dict classifier (${modelNames.join(', ')}; default fmnist-cnn for 28x28, wrn-28-10 for RGB)`,
      choice(modelNames),
    )
    .requiredOption(
      '--classifier-weights <file>',
      `the frozen classifier: ${WEIGHTS_HELP}; a TorchScript one must follow CARSO's tap convention (README)`,
    )
    .option('--taps <names>', "comma-separated module names to tap (default: the classifier's CARSO taps)", names)
    .option('--epochs <n>', 'epochs (default per dataset: 200 CIFAR, 250 Tiny, 16 greyscale)', positiveInt)
    .option('--batch-size <n>', 'batch size; the lr scales with it (default 640 CIFAR, 128 Tiny, 256 greyscale)', positiveInt)
    .option(
      '--perturbed-fraction <f>',
      'attacked fraction of each batch (default 0.5 CIFAR-10, 0.15 CIFAR-100, 0.01 Tiny, 0.5 greyscale)',
      nonNegative,
    )
    .option('--eps-weak <eps>', 'weak attack radius (default: RGB 4/255 std-rescaled as released, greyscale 0.1)', epsilon)
    .option('--eps-strong <eps>', 'strong attack radius (default: RGB 8/255 std-rescaled as released, greyscale 0.2)', epsilon)
    .option('--pgd-steps <n>', 'PGD iterations (default 40; greyscale 10)', positiveInt)
    .option('--pgd-step <a>', 'PGD step size (default 0.01; greyscale 0.025)', epsilon)
    .option(
      '--e2e-fraction <f>',
      'share of each batch attacked through the whole CARSO (taps, decoder, classifier, stable aggregation), ' +
        'taken from the clean rows; 0 = the paper (default 0)',
      nonNegative,
    )
    .option(
      `--e2e-attack <name>`,
      `end-to-end attack (${E2E_ATTACKS.join(', ')}; default ${PAPER_EXTRAS.e2eAttack})`,
      choice(E2E_ATTACKS),
    )
    .option('--e2e-eps <eps>', `end-to-end attack radius, Linf (default ${PAPER_EXTRAS.e2eEps})`, epsilon)
    .option('--e2e-steps <n>', `end-to-end PGD steps (default ${PAPER_EXTRAS.e2eSteps})`, positiveInt)
    .option(
      '--e2e-step <a>',
      `end-to-end step size (PGD per step, FGSM-RS its one step; default ${PAPER_EXTRAS.e2eStep})`,
      epsilon,
    )
    .option(
      '--e2e-loss <name>',
      `loss the end-to-end attacker ascends (dlr, ce; default ${PAPER_EXTRAS.e2eLoss})`,
      choice(['dlr', 'ce'] as const),
    )
    .option(
      '--e2e-samples <n>',
      `latent samples per input during the end-to-end attack (0: z = 0; default ${PAPER_EXTRAS.e2eSamples})`,
      nonNegativeInt,
    )
    .option(
      '--beta-schedule <name>',
      "KL warm-up: 'reference' (per epoch, as ebtorch: a step for short runs) or 'scaled' (25/200 of the run at 0, " +
        "a 9/200 ramp, per batch); default 'reference'",
      choice(BETA_SCHEDULES),
    )
    .option('--free-bits <nats>', 'KL floor per latent dimension, nats per image (0: off, the paper)', nonNegative)
    .option(
      '--class-weight <g>',
      "weight of the frozen classifier's cross-entropy on the reconstructions, against the true labels (0: off, the paper)",
      nonNegative,
    )
    .option('--seed <n>', 'seed for the purifier init, shuffling and attacks', nonNegativeInt, 0)
    .option('--limit <n>', 'use only the first N training points', positiveInt)
    .option('--threads <n>', THREADS_HELP, positiveInt)
    .option('--device <d>', 'cpu or cuda[:N] (needs a CUDA libtorch)', 'cpu')
    .requiredOption('--out <dir>', 'output folder (checkpoint, metrics.jsonl, purifier.safetensors)')
    .option('--resume', 'continue from <out>/checkpoint.safetensors')
    .option('--save-encoder', 'keep the (training-only) encoder in purifier.safetensors')
    .action((f: Flags) => {
      const config = configOf(f);
      const errs = purifierConfigErrors(config);
      if (errs.length > 0) throw new Error(`invalid options:\n  - ${errs.join('\n  - ')}`);
      const device = resolveDevice(f.device);
      if (f.threads !== undefined) setNumThreads(f.threads);
      const geometry = GEOMETRIES[f.dataset];
      const arch = f.classifier ?? (geometry.channels === 1 ? 'fmnist-cnn' : 'wrn-28-10');
      const { module: classifier } = loadClassifier(f.classifierWeights, { arch, dataset: f.dataset });
      const taps = f.taps ?? defaultTapNames(classifier);
      if (taps === null) throw new Error(`no default taps for ${classifier.constructor.name}: give --taps`);
      const ds = loadDataset(f.dataset, { root: f.dataDir, split: 'train', limit: f.limit });
      manualSeed(config.seed); // the purifier's initialisation
      const carso = new Carso(classifier, { geometry, taps });
      if (device !== 'cpu') {
        classifier.toDevice(device);
        carso.purifier.toDevice(device);
      }
      const card = {
        classifier: f.classifierWeights,
        command: purifierCommand(config, f.classifierWeights, f.out, f.taps),
      };
      const dist = joinGroup(f);
      const r = trainPurifier(carso, ds, config, { out: f.out, resume: !!f.resume, saveEncoder: !!f.saveEncoder, card, dist });
      dist?.destroy();
      if (dist !== null && dist.rank !== 0) return; // rank 0 reports
      const last = r.metrics[r.metrics.length - 1];
      console.log(
        JSON.stringify(
          { out: f.out, finished: r.finished, purifier: r.finished ? join(f.out, 'purifier.safetensors') : null, last },
          null,
          2,
        ),
      );
    });
}
