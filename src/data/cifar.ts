// CIFAR-10 and CIFAR-100, "binary version" (Krizhevsky 2009,
// www.cs.toronto.edu/~kriz/cifar.html). Each record is the label byte(s)
// then 3072 pixel bytes: the R plane, then G, then B, each 32x32 row-major,
// so a record's pixels are already one [3, 32, 32] CHW image.
import { join } from 'node:path';
import { ImageDataset, type LoadOptions } from './dataset.js';
import { DataFileError } from './errors.js';
import { checkLimit, checkSplit, defaultRoot, findDataDir, findFile, readBytes } from './files.js';

const PIXELS = 3 * 32 * 32;

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

interface RecordLayout {
  /** The label bytes before the pixels: [name, number of classes] each (CIFAR-100: coarse, then fine). */
  labels: readonly (readonly [string, number])[];
  /** Which label byte to serve. */
  serve: number;
}

/** Reads whole records from `files` in order, up to `limit`; errors name the file and record. */
function readRecords(files: readonly string[], layout: RecordLayout, limit: number): { images: Uint8Array; labels: Int32Array } {
  const size = layout.labels.length + PIXELS;
  const images: Uint8Array[] = [];
  const labels: number[] = [];
  for (const file of files) {
    if (labels.length >= limit) break;
    const bytes = readBytes(file);
    if (bytes.length === 0 || bytes.length % size !== 0)
      throw new DataFileError(
        file,
        `${bytes.length} bytes is not a whole number of ${size}-byte records (truncated, or not a CIFAR binary file)`,
      );
    const n = Math.min(bytes.length / size, limit - labels.length);
    for (let i = 0; i < n; i++) {
      const rec = i * size;
      layout.labels.forEach(([what, count], k) => {
        const l = bytes[rec + k] as number;
        if (l >= count) throw new DataFileError(file, `record ${i}: ${what} label ${l} outside [0, ${count})`);
      });
      labels.push(bytes[rec + layout.serve] as number);
      images.push(bytes.subarray(rec + layout.labels.length, rec + size));
    }
  }
  const out = new Uint8Array(images.length * PIXELS);
  images.forEach((img, i) => out.set(img, i * PIXELS));
  return { images: out, labels: Int32Array.from(labels) };
}

/** Class names from a one-name-per-line file shipped with the data, else `fallback`. */
function classNames(dir: string, file: string, fallback: readonly string[]): readonly string[] {
  const path = findFile(dir, [file]);
  if (path === undefined) return fallback;
  const names = new TextDecoder()
    .decode(readBytes(path))
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return names.length === fallback.length ? names : fallback;
}

const CIFAR_PAGE = 'from www.cs.toronto.edu/~kriz/cifar.html and extract it in the root';

/** CIFAR-10, [N, 3, 32, 32]: data_batch_1..5.bin (50000) or test_batch.bin (10000); root defaults to $CARSO_DATA/cifar10. */
export function loadCifar10(opts: LoadOptions = {}): ImageDataset {
  const root = opts.root ?? defaultRoot('cifar10');
  const train = checkSplit(opts.split, 'cifar10') === 'train';
  const hint = `Get the "CIFAR-10 binary version" (cifar-10-binary.tar.gz) ${CIFAR_PAGE}.`;
  const names = train ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const dir = findDataDir(root, { dataset: 'cifar10', subdirs: ['cifar-10-batches-bin'], marker: [names[0] as string], hint });
  const layout: RecordLayout = { labels: [['class', 10]], serve: 0 };
  const { images, labels } = readRecords(
    names.map((n) => join(dir, n)),
    layout,
    checkLimit(opts.limit, 'cifar10'),
  );
  return new ImageDataset('cifar10', images, labels, [3, 32, 32], classNames(dir, 'batches.meta.txt', CIFAR10_CLASSES));
}

/** CIFAR-100, [N, 3, 32, 32]: train.bin (50000) or test.bin (10000), fine labels unless `coarse`; root defaults to $CARSO_DATA/cifar100. */
export function loadCifar100(opts: LoadOptions = {}): ImageDataset {
  const root = opts.root ?? defaultRoot('cifar100');
  const file = checkSplit(opts.split, 'cifar100') === 'train' ? 'train.bin' : 'test.bin';
  const hint = `Get the "CIFAR-100 binary version" (cifar-100-binary.tar.gz) ${CIFAR_PAGE}.`;
  const dir = findDataDir(root, { dataset: 'cifar100', subdirs: ['cifar-100-binary'], marker: [file], hint });
  const coarse = opts.coarse === true;
  const layout: RecordLayout = {
    labels: [
      ['coarse', 20],
      ['fine', 100],
    ],
    serve: coarse ? 0 : 1,
  };
  const { images, labels } = readRecords([join(dir, file)], layout, checkLimit(opts.limit, 'cifar100'));
  const numbered = Array.from({ length: coarse ? 20 : 100 }, (_, i) => String(i));
  const classes = classNames(dir, coarse ? 'coarse_label_names.txt' : 'fine_label_names.txt', numbered);
  return new ImageDataset('cifar100', images, labels, [3, 32, 32], classes);
}
