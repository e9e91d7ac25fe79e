// Model cards: the JSON that ships next to weights, saying how they were made
// (recipe, seed, the exact command) and what they measured.
import os from 'node:os';
import { loadDataset } from '../data/index.js';
import { PGD } from '../attacks/pgd.js';
import { asModel } from '../attacks/model.js';
import { correctness, range } from '../eval/accuracy.js';
import type { Module } from '../nn/index.js';
import { getNumThreads, torchVersion } from '../tensor/index.js';
import { DEFAULTS, type TrainConfig } from './config.js';

export interface Count {
  correct: number;
  total: number;
  accuracy: number;
}

export interface ModelCard {
  architecture: string;
  dataset: string;
  recipe: TrainConfig;
  seed: number;
  command: string;
  trainingSeconds: number;
  test: { clean: Count; pgd20: Count | null; eps: number; pgdStep: number; points: number };
  environment: { node: string; libtorch: string; threads: number; cpu: string };
}

/** Test images `carso train` evaluates for the card unless told otherwise. */
export const DEFAULT_TEST_POINTS = 1000;

const FLAGS: Partial<Record<keyof TrainConfig, string>> = {
  dataset: '--dataset',
  dataDir: '--data-dir',
  model: '--model',
  method: '--method',
  eps: '--eps',
  alpha: '--alpha',
  steps: '--steps',
  beta: '--beta',
  epochs: '--epochs',
  batchSize: '--batch-size',
  optimizer: '--optimizer',
  lr: '--lr',
  momentum: '--momentum',
  weightDecay: '--weight-decay',
  schedule: '--schedule',
  milestones: '--milestones',
  seed: '--seed',
  limit: '--limit',
  valSize: '--val-size',
  valPgdSize: '--val-pgd-size',
  threads: '--threads',
  device: '--device',
};

/** The `carso train` command line that reproduces config c (flags that differ from the defaults). */
export function commandFor(c: TrainConfig, out: string, testPoints = DEFAULT_TEST_POINTS): string {
  const args = ['carso train'];
  for (const [key, flag] of Object.entries(FLAGS) as [keyof TrainConfig, string][]) {
    const v = c[key];
    if (v === undefined || JSON.stringify(v) === JSON.stringify(DEFAULTS[key])) continue;
    args.push(flag, Array.isArray(v) ? v.join(',') : String(v));
  }
  if (c.nesterov) args.push('--nesterov');
  if (c.augment) args.push('--augment');
  if (testPoints !== DEFAULT_TEST_POINTS) args.push('--test-points', String(testPoints));
  args.push('--out', out);
  return args.join(' ');
}

function count(flags: boolean[]): Count {
  const correct = flags.filter(Boolean).length;
  return { correct, total: flags.length, accuracy: correct / Math.max(1, flags.length) };
}

/** Clean and PGD-20 (step eps/10, random start) accuracy on the first `points` test images. */
export function testAccuracy(model: Module, c: TrainConfig, points: number, eps: number): ModelCard['test'] {
  const ds = loadDataset(c.dataset, { root: c.dataDir, split: 'test', limit: points });
  model.eval();
  const m = asModel(model);
  const idx = range(0, ds.length);
  const clean = count(correctness(m, ds, idx, 250));
  const pgd = eps > 0 ? count(correctness(m, ds, idx, 250, new PGD({ eps, steps: 20, alpha: eps / 10 }))) : null;
  return { clean, pgd20: pgd, eps, pgdStep: eps / 10, points: ds.length };
}

export function makeCard(c: TrainConfig, out: string, seconds: number, test: ModelCard['test']): ModelCard {
  const cpus = os.cpus();
  return {
    architecture: c.model,
    dataset: c.dataset,
    recipe: c,
    seed: c.seed,
    command: commandFor(c, out, test.points),
    trainingSeconds: Math.round(seconds),
    test,
    environment: {
      node: process.version,
      libtorch: torchVersion(),
      threads: getNumThreads(),
      cpu: `${cpus.length} x ${cpus[0]?.model ?? 'unknown'}`,
    },
  };
}
