// Model registry: architectures by name (what configs and the CLI refer to),
// each with the data sets it fits. The data set sets the classes, the input
// normalisation and (WRN on TinyImageNet) the pooling:
//
//     const wrn = createModel('wrn-28-10', { dataset: 'tiny-imagenet' }); // 200 classes, autopool, Tiny mean/std
//     const cnn = createModel('fmnist-cnn');                              // default data set: fashion-mnist
//
// The classes below are the plain constructors (no registry involved).
import type { Module } from '../nn/index.js';
import type { DatasetName } from '../data/index.js';
import { DATASETS, type DatasetSpec } from './datasets.js';
import { FmnistCNN } from './fmnist-cnn.js';
import { PreActResNet18 } from './preact-resnet.js';
import { ReferenceCNN } from './reference-cnn.js';
import { WideResNet, WRN_PRESETS } from './wide-resnet.js';

export { ReferenceCNN } from './reference-cnn.js';
export { FmnistCNN } from './fmnist-cnn.js';
export { WideResNet, WideResNetBlock, WideResNetGroup, WRN_PRESETS, wrnTapNames, type WideResNetOptions } from './wide-resnet.js';
export { PreActResNet18, PreActBlock, type PreActResNetOptions } from './preact-resnet.js';
export { normalizeInput, type Normalization } from './normalize.js';
export { DATASETS, CIFAR10_NORM, CIFAR100_NORM, TINY_IMAGENET_NORM, type DatasetSpec } from './datasets.js';

interface Entry {
  /** The data sets it fits, the default first. */
  readonly datasets: readonly DatasetName[];
  /** Why only those (for the error on any other). */
  readonly takes: string;
  readonly build: (d: DatasetSpec) => Module;
}

const GREYSCALE_28: Pick<Entry, 'datasets' | 'takes'> = {
  datasets: ['fashion-mnist', 'mnist'],
  takes: '28x28 greyscale images',
};

/** A WRN preset: classes, normalisation and channels from the data set; global pooling beyond 32x32. */
const wrn = (preset: keyof typeof WRN_PRESETS): Entry => ({
  datasets: ['cifar10', 'cifar100', 'tiny-imagenet'],
  takes: 'RGB images of 32x32 (or 64x64 with global pooling)',
  build: (d) =>
    new WideResNet({
      ...WRN_PRESETS[preset],
      classes: d.classes,
      normalization: d.normalization,
      autopool: d.size !== 32,
      inputChannels: d.channels,
    }),
});

const REGISTRY = {
  'reference-cnn': { ...GREYSCALE_28, build: (d) => new ReferenceCNN(d.classes) },
  'fmnist-cnn': { ...GREYSCALE_28, build: (d) => new FmnistCNN(d.classes) },
  'preact-resnet18': {
    datasets: ['cifar10', 'cifar100'],
    takes: '32x32 RGB images (its avg_pool2d(4) head fixes the size)',
    build: (d) => new PreActResNet18({ classes: d.classes, normalization: d.normalization, inputChannels: d.channels }),
  },
  'wrn-16-4': wrn('wrn-16-4'),
  'wrn-28-10': wrn('wrn-28-10'),
} satisfies Record<string, Entry>;

export type ModelName = keyof typeof REGISTRY;
export const modelNames = Object.keys(REGISTRY) as ModelName[];
const datasetNames = Object.keys(DATASETS) as DatasetName[];

export interface CreateModelOptions {
  /** The data set the model is for (default: the model's first, see `modelDatasets`). */
  dataset?: string;
}

/** The data sets `name` fits, its default first; throws for an unknown name. */
export function modelDatasets(name: string): readonly DatasetName[] {
  return entry(name).datasets;
}

/**
 * A freshly initialised model for a data set. Throws, naming the valid choices,
 * for an unknown model or data set or a data set the model does not fit.
 */
export function createModel(name: string, opts: CreateModelOptions = {}): Module {
  const e = entry(name);
  const dataset = opts.dataset ?? e.datasets[0]!;
  if (!Object.hasOwn(DATASETS, dataset))
    throw new Error(`createModel('${name}'): unknown dataset '${dataset}' (valid: ${datasetNames.join(', ')})`);
  if (!e.datasets.includes(dataset as DatasetName))
    throw new Error(`createModel('${name}'): does not fit dataset '${dataset}': it takes ${e.takes} (${e.datasets.join(', ')})`);
  return e.build(DATASETS[dataset as DatasetName]);
}

function entry(name: string): Entry {
  if (!Object.hasOwn(REGISTRY, name)) throw new Error(`unknown model '${name}' (valid: ${modelNames.join(', ')})`);
  return REGISTRY[name as ModelName];
}
export { SHIPPED_MODELS_DIR, shippedFile } from './shipped.js';
