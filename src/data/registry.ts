// The data sets by name, for configs and the CLI:
//
//     const ds = loadDataset('cifar10', { split: 'test', limit: 1000 });
//
// Default roots: Fashion-MNIST in the Debian package's folder
// (/usr/share/datasets/fashion-mnist), every other set in $CARSO_DATA/<name>
// (CARSO_DATA defaults to ./data). Nothing is ever downloaded.
import { loadCifar10, loadCifar100 } from './cifar.js';
import type { ImageDataset, LoadOptions } from './dataset.js';
import { loadFashionMnist, loadMnist } from './mnist.js';
import { loadTinyImageNet } from './tiny-imagenet.js';

const LOADERS = {
  'fashion-mnist': loadFashionMnist,
  mnist: loadMnist,
  cifar10: loadCifar10,
  cifar100: loadCifar100,
  'tiny-imagenet': loadTinyImageNet,
} satisfies Record<string, (opts: LoadOptions) => ImageDataset>;

export type DatasetName = keyof typeof LOADERS;
export const DATASET_NAMES = Object.keys(LOADERS) as readonly DatasetName[];

/** Loads a data set by name (one of DATASET_NAMES) into memory. */
export function loadDataset(name: string, opts: LoadOptions = {}): ImageDataset {
  if (!Object.hasOwn(LOADERS, name))
    throw new Error(`unknown dataset ${JSON.stringify(name)}; valid names: ${DATASET_NAMES.join(', ')}`);
  return LOADERS[name as DatasetName](opts);
}
