// File helpers shared by checkpoints, weights and reports.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, mkdirSync } from 'node:fs';
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
