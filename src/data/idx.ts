// The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a 4-byte magic
// (0, 0, type code, number of dims), one big-endian uint32 per dim, then the
// data row-major. Only unsigned bytes (type 0x08) occur in these data sets.
import { ImageDataset } from './dataset.js';
import { DataFileError } from './errors.js';
import { readMaybeGzip } from './files.js';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

/** The header of IDX bytes with `ndims` dims (the whole file or its first bytes): dims and where the data starts. */
function idxHeader(bytes: Uint8Array, ndims: number, file: string): { dims: number[]; start: number } {
  if (bytes.length < 4) throw new DataFileError(file, `${bytes.length} bytes, too short for an IDX header`);
  const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (bytes[0] !== 0 || bytes[1] !== 0)
    throw new DataFileError(file, `bad IDX magic number ${magic} (expected 00 00 08 0${ndims})`);
  if (bytes[2] !== UBYTE)
    throw new DataFileError(file, `IDX type code 0x${magic.slice(6, 8)}, only unsigned bytes (0x08) are supported`);
  if (bytes[3] !== ndims) throw new DataFileError(file, `IDX file has ${bytes[3]} dims, expected ${ndims} (magic ${magic})`);
  const start = 4 + 4 * ndims;
  if (bytes.length < start) throw new DataFileError(file, `truncated IDX header: ${bytes.length} bytes, need ${start}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dims: Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false)), start };
}

/** Header plus data bytes that IDX bytes with `ndims` dims declare (from the header alone). */
export function idxFileSize(head: Uint8Array, ndims: number, file: string): number {
  const { dims, start } = idxHeader(head, ndims, file);
  return start + dims.reduce((a, b) => a * b, 1);
}

/** Parses IDX bytes (already gunzipped) with `ndims` dims; errors name `file`. */
export function parseIdx(bytes: Uint8Array, ndims: number, file: string): IdxArray {
  const { dims, start } = idxHeader(bytes, ndims, file);
  const size = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - start;
  if (have !== size)
    throw new DataFileError(
      file,
      `header says dims [${dims.join(', ')}] = ${size} data bytes, but the file has ${have}` +
        (have < size ? ' (truncated)' : ' (trailing bytes)'),
    );
  return { dims, data: bytes.subarray(start) };
}

/** IDX file `file` (raw or gzipped) with `ndims` dims. */
function readIdx(file: string, ndims: number): IdxArray {
  return parseIdx(
    readMaybeGzip(file, (head) => idxFileSize(head, ndims, file)),
    ndims,
    file,
  );
}

export interface IdxPair {
  imagesFile: string;
  labelsFile: string;
  name: string;
  classes: readonly string[];
  /** Keep only the first `limit` points. */
  limit: number;
}

/** An images (N, H, W) + labels (N) IDX pair as a [N, 1, H, W] data set. */
export function loadIdxPair(p: IdxPair): ImageDataset {
  const images = readIdx(p.imagesFile, 3);
  const labels = readIdx(p.labelsFile, 1);
  const [n = 0, h = 0, w = 0] = images.dims;
  if (h < 1 || w < 1) throw new DataFileError(p.imagesFile, `images of ${h}x${w} pixels`);
  const nLabels = labels.dims[0] ?? 0;
  if (n !== nLabels) throw new DataFileError(p.labelsFile, `${nLabels} labels, but ${p.imagesFile} has ${n} images`);
  const keep = Math.min(n, p.limit);
  const y = Int32Array.from(labels.data.subarray(0, keep));
  const bad = y.findIndex((l) => l >= p.classes.length);
  if (bad >= 0) throw new DataFileError(p.labelsFile, `label ${bad} is ${y[bad]}, outside [0, ${p.classes.length})`);
  // NOTE: copy a limited prefix so that the full decompressed file can be freed.
  const x = keep < n ? images.data.slice(0, keep * h * w) : images.data;
  return new ImageDataset(p.name, x, y, [1, h, w], p.classes);
}
