// What a model needs to know about each data set: input geometry, number of
// classes and the normalisation constants that models standardising their input
// internally use (carso.md section 1; ebtorch's CIFAR constants).
import type { DatasetName } from '../data/index.js';
import type { Normalization } from './normalize.js';

export interface DatasetSpec {
  readonly name: DatasetName;
  /** One image: [channels, size, size]. */
  readonly channels: number;
  readonly size: number;
  readonly classes: number;
  /** Standardisation for models that normalise internally; null = [0, 1] pixels are used as they are. */
  readonly normalization: Normalization | null;
}

export const CIFAR10_NORM: Normalization = { mean: [0.4914, 0.4822, 0.4465], std: [0.2471, 0.2435, 0.2616] };
export const CIFAR100_NORM: Normalization = { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] };
export const TINY_IMAGENET_NORM: Normalization = { mean: [0.4802, 0.4481, 0.3975], std: [0.2302, 0.2265, 0.2262] };

// NOTE: the greyscale CNNs take raw [0, 1] pixels (as the PyTorch reference CNN), hence no constants.
export const DATASETS: { readonly [K in DatasetName]: DatasetSpec } = {
  'fashion-mnist': { name: 'fashion-mnist', channels: 1, size: 28, classes: 10, normalization: null },
  mnist: { name: 'mnist', channels: 1, size: 28, classes: 10, normalization: null },
  cifar10: { name: 'cifar10', channels: 3, size: 32, classes: 10, normalization: CIFAR10_NORM },
  cifar100: { name: 'cifar100', channels: 3, size: 32, classes: 100, normalization: CIFAR100_NORM },
  'tiny-imagenet': { name: 'tiny-imagenet', channels: 3, size: 64, classes: 200, normalization: TINY_IMAGENET_NORM },
};
