// Training configuration: plain data with defaults, validated before any work
// starts so a bad flag never costs a half-finished run.
import { DATASET_NAMES } from '../data/index.js';
import { modelNames } from '../models/index.js';

export const METHODS = ['standard', 'pgd-at', 'trades', 'fast-at'] as const;
export type Method = (typeof METHODS)[number];
export const OPTIMIZERS = ['sgd', 'adam'] as const;
export const SCHEDULES = ['constant', 'multistep', 'cosine', 'onecycle'] as const;

export interface TrainConfig {
  dataset: string;
  /** Dataset folder (default: the dataset's standard location). */
  dataDir?: string;
  model: string;
  method: Method;
  /** Linf radius of the training attack (pgd-at, trades, fast-at). */
  eps: number;
  /** Attack step; default: pgd-at/trades 2.5·eps/steps, fast-at 1.25·eps. */
  alpha?: number;
  /** Attack steps (pgd-at, trades). */
  steps: number;
  /** TRADES trade-off β. */
  beta: number;
  epochs: number;
  batchSize: number;
  optimizer: (typeof OPTIMIZERS)[number];
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  schedule: (typeof SCHEDULES)[number];
  /** Epochs at which multistep multiplies the lr by 0.1. */
  milestones: number[];
  augment: boolean;
  seed: number;
  /** Use only the first N training points. */
  limit?: number;
  /** Held-out validation points (taken from the training split). */
  valSize: number;
  /** Validation points attacked with PGD-20 each epoch. */
  valPgdSize: number;
  threads?: number;
  device: string;
}

export const DEFAULTS: TrainConfig = {
  dataset: 'fashion-mnist',
  model: 'reference-cnn',
  method: 'standard',
  eps: 0.1,
  steps: 10,
  beta: 6,
  epochs: 10,
  batchSize: 128,
  optimizer: 'sgd',
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 5e-4,
  nesterov: false,
  schedule: 'onecycle',
  milestones: [],
  augment: false,
  seed: 0,
  valSize: 1000,
  valPgdSize: 500,
  device: 'cpu',
};

function oneOf(what: string, v: string, valid: readonly string[]): string[] {
  return valid.includes(v) ? [] : [`unknown ${what} '${v}' (valid: ${valid.join(', ')})`];
}

function positive(what: string, v: number, integer = false): string[] {
  const ok = Number.isFinite(v) && v > 0 && (!integer || Number.isInteger(v));
  return ok ? [] : [`${what} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`];
}

/** Every problem with a config, as messages; empty when it is valid. */
export function configErrors(c: TrainConfig): string[] {
  const errs = [
    ...oneOf('dataset', c.dataset, DATASET_NAMES),
    ...oneOf('model', c.model, modelNames),
    ...oneOf('method', c.method, METHODS),
    ...oneOf('optimizer', c.optimizer, OPTIMIZERS),
    ...oneOf('schedule', c.schedule, SCHEDULES),
    ...positive('epochs', c.epochs, true),
    ...positive('batch size', c.batchSize, true),
    ...positive('lr', c.lr),
    ...positive('steps', c.steps, true),
  ];
  if (c.method !== 'standard' && !(Number.isFinite(c.eps) && c.eps > 0 && c.eps <= 1))
    errs.push(`eps must be in (0, 1] for ${c.method} (images are in [0, 1]), got ${c.eps}`);
  if (c.alpha !== undefined) errs.push(...positive('alpha', c.alpha));
  if (!(c.beta >= 0)) errs.push(`beta must be >= 0, got ${c.beta}`);
  if (!(c.momentum >= 0 && c.momentum < 1)) errs.push(`momentum must be in [0, 1), got ${c.momentum}`);
  if (!(c.weightDecay >= 0)) errs.push(`weight decay must be >= 0, got ${c.weightDecay}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) errs.push(`seed must be a non-negative integer, got ${c.seed}`);
  if (c.limit !== undefined) errs.push(...positive('limit', c.limit, true));
  if (!Number.isInteger(c.valSize) || c.valSize < 0) errs.push(`val size must be a non-negative integer, got ${c.valSize}`);
  if (!Number.isInteger(c.valPgdSize) || c.valPgdSize < 0 || c.valPgdSize > c.valSize)
    errs.push(`val PGD size must be an integer in [0, val size], got ${c.valPgdSize}`);
  return errs;
}

export function validateConfig(c: TrainConfig): void {
  const errs = configErrors(c);
  if (errs.length > 0) throw new Error(`invalid training configuration:\n  - ${errs.join('\n  - ')}`);
}
