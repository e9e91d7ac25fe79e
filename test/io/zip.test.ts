// ZipArchive on damaged archives (the zip layer of torch.save and TorchScript
// files): each is an Error naming the file, and a deflated entry never inflates
// past the size the directory gives it (a zip bomb with a lying size).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZipArchive } from '../../src/io/zip.js';
import { writeZip } from '../../bench/fuzz/zip.js';

const bytes = (n: number, v = 0): Uint8Array => new Uint8Array(n).fill(v);

test('a readable archive: stored and deflated entries read back', () => {
  const z = new ZipArchive(
    writeZip([
      { name: 'a/x', data: bytes(5, 7) },
      { name: 'a/y', data: bytes(300, 1), deflate: true },
    ]),
    'ok.zip',
  );
  assert.deepEqual([...z.read('a/x')], [7, 7, 7, 7, 7]);
  assert.equal(z.read('a/y').length, 300);
});

test('a deflated entry claiming 10 bytes that inflates to 64 MB: refused at 10 bytes, not inflated', () => {
  const zip = writeZip([{ name: 'a/bomb', data: bytes(64 << 20), deflate: true, size: 10 }]);
  assert.ok(zip.length < 100_000, `the bomb is ${zip.length} bytes`);
  const before = process.memoryUsage().rss;
  assert.throws(
    () => new ZipArchive(zip, 'bomb.zip').read('a/bomb'),
    /zip: bomb\.zip: entry 'a\/bomb': inflates past the 10 bytes/,
  );
  // NOTE: generous: the point is that 64 MB were never made (V8 and the allocator move a few MB about)
  assert.ok(process.memoryUsage().rss - before < 32 << 20, 'no 64 MB inflation');
});

test('corrupt deflate data, stored sizes that differ, names that fold together: Errors naming the file', () => {
  const corrupt = writeZip([{ name: 'a/x', data: bytes(100, 3), deflate: true }]);
  corrupt[33] = 0xff; // the first deflate block header (after the 30-byte local header and 3-byte name): reserved type 3
  assert.throws(() => new ZipArchive(corrupt, 'c.zip').read('a/x'), /zip: c\.zip: entry 'a\/x': (corrupt deflate data|inflates)/);
  const lying = writeZip([{ name: 'a/x', data: bytes(8), size: 1 << 30 }]);
  assert.throws(
    () => new ZipArchive(lying, 'l.zip').read('a/x'),
    /zip: l\.zip: entry 'a\/x': stored, but its size \(1073741824\) and stored size \(8\) differ/,
  );
  const folded = writeZip([
    { name: 'a/data.pkl', data: bytes(1) },
    { name: 'a/DATA.pkl', data: bytes(1) },
  ]);
  assert.throws(() => new ZipArchive(folded, 'f.zip'), /zip: f\.zip: two entries named 'a\/DATA\.pkl' \(up to case\)/);
});
