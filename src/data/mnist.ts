// MNIST and Fashion-MNIST: four IDX files (train-/t10k-, images-idx3/labels-idx1),
// gzipped or not, in the root or in torchvision's <Name>/raw layout.
import { join } from 'node:path';
import type { ImageDataset, LoadOptions } from './dataset.js';
import { checkLimit, checkSplit, defaultRoot, findDataDir, findFile } from './files.js';
import { loadIdxPair } from './idx.js';

export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));

interface IdxSet {
  name: string;
  torchvisionDir: string;
  classes: readonly string[];
  hint: string;
}

const FASHION: IdxSet = {
  name: 'fashion-mnist',
  torchvisionDir: 'FashionMNIST',
  classes: FASHION_MNIST_CLASSES,
  hint: `Install it with \`apt-get install dataset-fashion-mnist\` (files in ${FASHION_MNIST_ROOT}), or put the four IDX files of github.com/zalandoresearch/fashion-mnist in the root.`,
};

const MNIST: IdxSet = {
  name: 'mnist',
  torchvisionDir: 'MNIST',
  classes: DIGITS,
  hint: 'Download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (yann.lecun.com/exdb/mnist or a mirror) into the root.',
};

/** The names a file may have: official (with '-idx') or Kaggle-style ('.idx'), each raw or .gz. */
const names = (prefix: string, kind: string): string[] =>
  [`${prefix}-${kind}-ubyte`, `${prefix}.${kind}-ubyte`].flatMap((n) => [n, `${n}.gz`]);

function loadIdxSet(set: IdxSet, root: string, opts: LoadOptions): ImageDataset {
  const prefix = checkSplit(opts.split, set.name) === 'train' ? 'train' : 't10k';
  const imageNames = names(prefix, 'images-idx3');
  const labelNames = names(prefix, 'labels-idx1');
  const dir = findDataDir(root, {
    dataset: set.name,
    subdirs: ['raw', join(set.torchvisionDir, 'raw')],
    marker: imageNames,
    hint: set.hint,
  });
  const labelsFile = findFile(dir, labelNames);
  if (labelsFile === undefined) throw new Error(`${set.name}: ${dir} has images but no ${labelNames.join(' or ')}. ${set.hint}`);
  return loadIdxPair({
    imagesFile: findFile(dir, imageNames) as string,
    labelsFile,
    name: set.name,
    classes: set.classes,
    limit: checkLimit(opts.limit, set.name),
  });
}

/** Fashion-MNIST, [N, 1, 28, 28]; root defaults to the Debian package's folder. */
export function loadFashionMnist(opts: LoadOptions = {}): ImageDataset {
  return loadIdxSet(FASHION, opts.root ?? FASHION_MNIST_ROOT, opts);
}

/** MNIST, [N, 1, 28, 28]; root defaults to $CARSO_DATA/mnist. */
export function loadMnist(opts: LoadOptions = {}): ImageDataset {
  return loadIdxSet(MNIST, opts.root ?? defaultRoot('mnist'), opts);
}
