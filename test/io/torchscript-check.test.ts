// checkTorchScriptArchive, through ScriptModule.load: damaged TorchScript files that
// abort the process or allocate gigabytes inside libtorch's torch::jit::load (found
// by bench/fuzz), or load with a storage larger than its memory (found by hand), are
// Errors naming the file, raised before libtorch reads them.
// Each is the committed seed test/fixtures/fuzz/small-script.pt with one edit.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptModule } from '../../src/nn/index.js';
import { checkTorchScriptArchive } from '../../src/io/torchscript-check.js';
import { members, writeZip, type Member } from '../../bench/fuzz/zip.js';
import { FIXTURES } from '../fixtures.js';

const SEED = join(FIXTURES, 'fuzz', 'small-script.pt');
const scratch = mkdtempSync(join(tmpdir(), 'carso-ts-check-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** The seed's members with `edit` applied, written as `name`. */
function edited(name: string, edit: (ms: Member[]) => Member[]): string {
  const path = join(scratch, name);
  writeFileSync(path, writeZip(edit(members(new Uint8Array(readFileSync(SEED)))!)));
  return path;
}

/** `ms` with the content of `entry` replaced by `f(content)`. */
const withEntry = (ms: Member[], entry: string, f: (b: Uint8Array) => Uint8Array): Member[] =>
  ms.map((m) => (m.name === entry ? { ...m, data: f(m.data.slice()) } : m));

/** Offset of the first occurrence of `needle` (latin-1) in `b`. */
function find(b: Uint8Array, needle: string): number {
  const at = Buffer.from(b).indexOf(Buffer.from(needle, 'latin1'));
  assert.ok(at >= 0, `no ${JSON.stringify(needle)}`);
  return at;
}

test('the seed, rewritten unchanged, loads (so each refusal below comes from its edit)', () => {
  const path = edited('same.pt', (ms) => ms);
  checkTorchScriptArchive(path);
  ScriptModule.load(path).dispose();
});

const cases: [string, string, (ms: Member[]) => Member[], RegExp][] = [
  [
    // NOTE: libtorch's unpickler pops three values from a one-value stack, then destroys a garbage IValue: SIGABRT
    'a swapped opcode that underflows the stack (was: the process aborted)',
    'underflow.pt',
    (ms) => withEntry(ms, 'small-script/data.pkl', (b) => ((b[find(b, ')\x81')] = 0x87), b)),
    /underflow\.pt: small-script\/data\.pkl: pickle byte \d+: stack underflow/,
  ],
  [
    // NOTE: libtorch allocated (and zeroed) the 4 GB the length field claims before finding the data short
    'a string length past the end (was: a 4 GB allocation)',
    'length.pt',
    (ms) =>
      withEntry(ms, 'small-script/data.pkl', (b) => (b.set([0xff, 0xff, 0xff], find(b, 'X\x08\x00\x00\x00training') + 2), b)),
    /length\.pt: small-script\/data\.pkl: pickle byte \d+: length 4294967048 exceeds the data/,
  ],
  [
    // NOTE: libtorch gives the storage numel x 4 = 800 bytes over the 72-byte record it allocated: a storage larger
    // than its memory (loaded without complaint), and a tensor sized to match would read past the allocation
    'a storage element count beyond its record (was: loaded, with a storage larger than its memory)',
    'numel.pt',
    (ms) =>
      withEntry(ms, 'small-script/data.pkl', (b) => {
        const at = find(b, 'X\x03\x00\x00\x00cpu') + 8; // then BINPUT n, BININT1 numel
        assert.deepEqual([b[at], b[at + 2], b[at + 3]], [0x71, 0x4b, 18]);
        b[at + 3] = 200;
        return b;
      }),
    /numel\.pt: storage '0' claims 200 float32 elements, but small-script\/data\/0 holds 72 bytes/,
  ],
  [
    // NOTE: libtorch's miniz refuses this one too; the check keeps the sizes libtorch allocates by honest
    'a stored entry whose directory size disagrees with its stored size',
    'size.pt',
    (ms) => ms.map((m) => (m.name === 'small-script/data/7' ? { ...m, size: 0x7fffffff } : m)),
    /size\.pt: entry 'small-script\/data\/7': stored, but its size \(2147483647\) and stored size \(384\) differ/,
  ],
  [
    'two entries of one name (this check and libtorch could read different ones)',
    'twice.pt',
    (ms) => [...ms, { ...ms.find((m) => m.name === 'small-script/data.pkl')!, data: new Uint8Array([0x80, 2, 0x2e]) }],
    /twice\.pt: two entries named 'small-script\/data\.pkl'/,
  ],
];

for (const [what, name, edit, message] of cases)
  test(`${what}: an Error naming the file, before libtorch reads it`, () => {
    const path = edited(name, edit);
    assert.throws(() => ScriptModule.load(path), message);
  });
