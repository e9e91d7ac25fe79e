// Data sets in memory as uint8 NCHW + labels, served as float32 [0, 1] batches.
export { ImageDataset, type LoadOptions, type Split } from './dataset.js';
export { DataFileError, MissingDataError } from './errors.js';
export { parseIdx, loadIdxPair, type IdxArray, type IdxPair } from './idx.js';
export { loadMnist, loadFashionMnist, FASHION_MNIST_ROOT, FASHION_MNIST_CLASSES } from './mnist.js';
export { loadCifar10, loadCifar100, CIFAR10_CLASSES } from './cifar.js';
export { loadTinyImageNet } from './tiny-imagenet.js';
export { loadDataset, DATASET_NAMES, type DatasetName } from './registry.js';
export { Pcg32, type RngState } from './random.js';
export { makeBatch, drawTransform, CIFAR_AUGMENT, type Augment, type SampleTransform, type Batch } from './batch.js';
export { DataLoader, holdOut, type LoaderOptions, type LoaderState, type Holdout } from './loader.js';
