// File helpers shared by checkpoints, weights, data sets and reports.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, basename, join } from 'node:path';

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory
 * is written, fsynced and renamed over `path`, so an interrupted run (Ctrl-C,
 * kill) leaves either the old file or the new one, never a torn one.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string | readonly Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const parts = typeof data === 'string' ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
  const fd = openSync(tmp, 'w');
  try {
    for (const p of parts) {
      let off = 0;
      while (off < p.length) off += writeSync(fd, p, off, p.length - off);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * The bytes of `path`, which must be a regular file once links are followed.
 * NOTE: opened non-blocking and checked with fstat before reading: a link to
 * /dev/zero or /dev/urandom would otherwise be read without end, and a FIFO
 * would block the open itself. Reads exactly the size fstat reports.
 */
export function readRegularFile(path: string): Uint8Array {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new Error(`${path} is not a regular file (${st.isDirectory() ? 'a folder' : 'a device, socket or pipe'})`);
    const out = new Uint8Array(st.size);
    let at = 0;
    while (at < out.length) {
      const n = readSync(fd, out, at, out.length - at, at);
      if (n === 0) throw new Error(`${path} shrank while being read (${at} of ${out.length} bytes)`);
      at += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `fn` on something read from `path`; an error that does not name the
 * file comes out as `${what}: ${path}: ${message}` (the original as its cause), so
 * every failure of a loader says which file it was.
 */
export function namingFile<T>(what: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (message.includes(path)) throw err;
    throw new Error(`${what}: ${path}: ${message}`, { cause: err });
  }
}
