// TinyImageNet-200 (Stanford CS231N), standard folder layout:
//   wnids.txt                          one WordNet id per line; class index = line order
//   train/<wnid>/images/*.JPEG         500 per class
//   val/images/*.JPEG + val/val_annotations.txt   (file \t wnid \t x0 \t y0 \t x1 \t y1)
// Images are 64x64 JPEGs, some grayscale (decoded to 3 channels). The test
// split's labels were never released, so split 'test' serves val.
// NOTE: jpeg-js decodes a 64x64 JPEG in about 1 ms, so the 100000 training
// images take minutes; `limit` keeps the first N (train: class by class, in wnids order).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ImageDataset, type LoadOptions } from './dataset.js';
import { DataFileError } from './errors.js';
import { checkLimit, checkSplit, defaultRoot, findDataDir, isDir, readBytes } from './files.js';
import { decodeJpegInto } from './jpeg.js';

const SIDE = 64;
const HINT = 'Get tiny-imagenet-200.zip (cs231n.stanford.edu) and extract it in the root.';
// Numeric-aware, locale-fixed order: n01443537_2.JPEG before n01443537_10.JPEG.
const collator = new Intl.Collator('en', { numeric: true });

interface Item {
  file: string;
  label: number;
}

function readWnids(file: string): string[] {
  const wnids = new TextDecoder()
    .decode(readBytes(file))
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (wnids.length === 0) throw new DataFileError(file, 'no class ids (expected one WordNet id per line)');
  const dup = wnids.find((w, i) => wnids.indexOf(w) !== i);
  if (dup !== undefined) throw new DataFileError(file, `class id ${dup} listed twice`);
  return wnids;
}

function trainItems(dir: string, wnids: readonly string[], limit: number): Item[] {
  const items: Item[] = [];
  for (let label = 0; label < wnids.length && items.length < limit; label++) {
    const folder = join(dir, 'train', wnids[label] as string, 'images');
    if (!isDir(folder)) throw new DataFileError(folder, `missing folder of class ${label} (${wnids[label]} in wnids.txt)`);
    const files = readdirSync(folder)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort(collator.compare);
    for (const f of files.slice(0, limit - items.length)) items.push({ file: join(folder, f), label });
  }
  return items;
}

function valItems(dir: string, wnids: readonly string[], limit: number): Item[] {
  const annotations = join(dir, 'val', 'val_annotations.txt');
  const index = new Map(wnids.map((w, i) => [w, i]));
  const lines = new TextDecoder().decode(readBytes(annotations)).split('\n');
  const items: Item[] = [];
  for (let i = 0; i < lines.length && items.length < limit; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const [file, wnid] = line.split('\t');
    if (file === undefined || wnid === undefined)
      throw new DataFileError(annotations, `line ${i + 1}: expected tab-separated file and wnid, got ${JSON.stringify(line)}`);
    const label = index.get(wnid);
    if (label === undefined) throw new DataFileError(annotations, `line ${i + 1}: unknown wnid ${wnid} (not in wnids.txt)`);
    // NOTE: a name, not a path: '../../../dev/zero' would read outside val/images (fuzz found it)
    if (!/^[^/\\]+$/.test(file) || file === '.' || file === '..')
      throw new DataFileError(annotations, `line ${i + 1}: ${JSON.stringify(file)} is not a file name in val/images`);
    items.push({ file: join(dir, 'val', 'images', file), label });
  }
  return items;
}

/** TinyImageNet-200, [N, 3, 64, 64], 200 classes (named by wnid); root defaults to $CARSO_DATA/tiny-imagenet. */
export function loadTinyImageNet(opts: LoadOptions = {}): ImageDataset {
  const root = opts.root ?? defaultRoot('tiny-imagenet');
  const train = checkSplit(opts.split, 'tiny-imagenet') === 'train';
  const dir = findDataDir(root, {
    dataset: 'tiny-imagenet',
    subdirs: ['tiny-imagenet-200'],
    marker: ['wnids.txt', 'train', 'val'],
    hint: HINT,
  });
  const wnids = readWnids(join(dir, 'wnids.txt'));
  const limit = checkLimit(opts.limit, 'tiny-imagenet');
  const items = train ? trainItems(dir, wnids, limit) : valItems(dir, wnids, limit);
  const size = 3 * SIDE * SIDE;
  const images = new Uint8Array(items.length * size); // [N, 3, 64, 64]
  items.forEach((it, i) => decodeJpegInto(readBytes(it.file), it.file, SIDE, SIDE, images, i * size));
  return new ImageDataset(
    'tiny-imagenet',
    images,
    Int32Array.from(items, (it) => it.label),
    [3, SIDE, SIDE],
    wnids,
  );
}
