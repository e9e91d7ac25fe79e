// File access shared by the loaders: reading (gzip detected by its magic
// bytes, not by the name), and finding a data set's folder under a root that
// may be the folder itself or hold it under its usual extracted name.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { readRegularFile } from '../util/fs.js';
import type { Split } from './dataset.js';
import { DataFileError, MissingDataError } from './errors.js';

export function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

// NOTE: plain Uint8Array views of Node's Buffers, so that data sets hold one array type.
const plain = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** The bytes of `file` (a regular file); a missing, unreadable or special file throws a DataFileError naming it. */
export function readBytes(file: string): Uint8Array {
  try {
    return readRegularFile(file);
  } catch (err) {
    throw new DataFileError(file, `cannot read (${(err as Error).message})`);
  }
}

/** The first bytes a gzip stream inflates to (at most ~1 MB), from its first 1 KB. */
function gunzipHead(raw: Uint8Array): Uint8Array {
  return plain(gunzipSync(raw.subarray(0, 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH }));
}

/**
 * The bytes of `file`, gunzipped when they start with the gzip magic 1f 8b.
 * `size(head)` gives the full size the format's header (the first bytes) declares:
 * NOTE: decompression stops past it, so a small file that inflates without end
 * (a gzip bomb, or a corrupt length) is refused instead of filling memory.
 */
export function readMaybeGzip(file: string, size: (head: Uint8Array) => number): Uint8Array {
  const raw = readBytes(file);
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  let limit = 0;
  try {
    limit = Math.min(size(gunzipHead(raw)) + 1, bufferConstants.MAX_LENGTH);
    return plain(gunzipSync(raw, { maxOutputLength: limit }));
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE')
      throw new DataFileError(file, `gzip data inflates to more than the ${limit - 1} bytes its header declares`);
    throw new DataFileError(file, `corrupt or truncated gzip data (${e.message})`);
  }
}

/** The first of `names` that exists in `dir`, as a path, or undefined. */
export function findFile(dir: string, names: readonly string[]): string | undefined {
  for (const n of names) if (existsSync(join(dir, n))) return join(dir, n);
  return undefined;
}

export interface DataDirSpec {
  /** Data set name, for messages. */
  dataset: string;
  /** Subfolders of the root that may hold the files (their usual extracted names). */
  subdirs: readonly string[];
  /** A file whose presence marks the folder (any one of these names). */
  marker: readonly string[];
  /** How to get the data, appended to the error. */
  hint: string;
}

/** The folder (root, or one of root/subdirs) that holds the marker file, or a MissingDataError. */
export function findDataDir(root: string, spec: DataDirSpec): string {
  const candidates = [root, ...spec.subdirs.map((s) => join(root, s))];
  if (!isDir(root)) throw new MissingDataError(spec.dataset, [root], `directory ${root} does not exist`, spec.hint);
  for (const dir of candidates) if (findFile(dir, spec.marker) !== undefined) return dir;
  throw new MissingDataError(spec.dataset, candidates, `no ${spec.marker.join(' or ')} found`, spec.hint);
}

/** The `limit` option checked: undefined or a non-negative integer. */
export function checkLimit(limit: number | undefined, where: string): number {
  if (limit === undefined) return Infinity;
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`${where}: limit must be a non-negative integer, got ${limit}`);
  return limit;
}

/** The `split` option checked, default 'train'. */
export function checkSplit(split: string | undefined, where: string): Split {
  if (split === undefined || split === 'train' || split === 'test') return split ?? 'train';
  throw new Error(`${where}: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
}

/** $CARSO_DATA/<name>, or data/<name> under the working directory. */
export function defaultRoot(name: string): string {
  return join(process.env['CARSO_DATA'] ?? 'data', name);
}
