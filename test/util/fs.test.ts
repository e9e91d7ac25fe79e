// File helpers: reading refuses what is not a regular file (before reading a byte),
// and namingFile puts the file's path into every error of a loader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namingFile, readRegularFile } from '../../src/util/fs.js';

const dir = mkdtempSync(join(tmpdir(), 'carso-fs-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('readRegularFile: exact bytes of a file, through a link too', () => {
  writeFileSync(join(dir, 'a'), Uint8Array.from([1, 2, 3]));
  symlinkSync(join(dir, 'a'), join(dir, 'link-a'));
  assert.deepEqual(readRegularFile(join(dir, 'a')), Uint8Array.from([1, 2, 3]));
  assert.deepEqual(readRegularFile(join(dir, 'link-a')), Uint8Array.from([1, 2, 3]));
});

test('readRegularFile refuses devices, folders and pipes without reading or blocking (fuzz: a link to /dev/zero hung the loaders)', () => {
  symlinkSync('/dev/zero', join(dir, 'zero'));
  symlinkSync('/dev/urandom', join(dir, 'random'));
  execFileSync('mkfifo', [join(dir, 'fifo')]); // no writer: a blocking open would never return
  for (const name of ['zero', 'random', 'fifo'])
    assert.throws(
      () => readRegularFile(join(dir, name)),
      new RegExp(`${name} is not a regular file \\(a device, socket or pipe\\)`),
    );
  assert.throws(() => readRegularFile(dir), /is not a regular file \(a folder\)/);
  assert.throws(() => readRegularFile(join(dir, 'missing')), /ENOENT/);
});

test('namingFile: errors that do not name the file get its path, the others pass unchanged', () => {
  const plain = new Error('boom');
  assert.throws(
    () =>
      namingFile('loader', '/x/y.bin', () => {
        throw plain;
      }),
    (e: Error) => e.message === 'loader: /x/y.bin: boom' && e.cause === plain,
  );
  const named = new Error('/x/y.bin: already named');
  assert.throws(
    () =>
      namingFile('loader', '/x/y.bin', () => {
        throw named;
      }),
    (e: Error) => e === named,
  );
  assert.equal(
    namingFile('loader', '/x', () => 5),
    5,
  );
});
