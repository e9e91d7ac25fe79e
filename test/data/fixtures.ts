// Test-time fixtures: the generator's tiny data sets in a fresh temp folder
// (removed when the test process exits), plus helpers to corrupt copies of them.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAll } from '../fixtures/data/generate.js';

let root: string | undefined;

/** The folder holding idx/, cifar10/, cifar100/, tiny/ (generated once per test file). */
export function fixtures(): string {
  if (root === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'carso-data-'));
    root = dir;
    writeAll(dir);
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return root;
}

let copies = 0;

/** A fresh copy of fixture subfolder `sub` (to corrupt without touching the others). */
export function copyOf(sub: string): string {
  const dst = join(fixtures(), `copy-${copies++}`);
  cpSync(join(fixtures(), sub), dst, { recursive: true });
  return dst;
}
