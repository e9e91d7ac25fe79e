// Access to the PyTorch fixtures (test/fixtures/gen_nn.py) and to the Debian
// PyTorch that made them, for the tests that talk to it live.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type SafetensorsContent } from '../src/io/index.js';
import type { Tensor } from '../src/tensor/index.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** NOTE: only Debian's python3 has torch; the python3 first on PATH may not. */
export const TORCH_PYTHON = '/usr/bin/python3';

export interface Fixture extends SafetensorsContent {
  /** The tensor `name`; throws when the fixture lacks it. */
  get(name: string): Tensor;
  /** Tensors named `prefix.<key>`, keyed by <key>, in file order. */
  group(prefix: string): Map<string, Tensor>;
}

/** Reads test/fixtures/nn/<name>.safetensors. */
export function readFixture(name: string): Fixture {
  const content = readSafetensors(join(FIXTURES, 'nn', `${name}.safetensors`));
  const { tensors } = content;
  return {
    ...content,
    get(key) {
      const t = tensors.get(key);
      if (t === undefined) throw new Error(`fixture ${name}: no tensor '${key}' (has ${[...tensors.keys()].join(', ')})`);
      return t;
    },
    group: (prefix) =>
      new Map([...tensors].filter(([k]) => k.startsWith(`${prefix}.`)).map(([k, t]) => [k.slice(prefix.length + 1), t])),
  };
}

let torchChecked: string | null | undefined;
/** null when /usr/bin/python3 can import torch, else why not (the reason a test skips with). */
export function torchUnavailable(): string | null {
  if (torchChecked === undefined) {
    const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    torchChecked =
      r.status === 0
        ? null
        : `${TORCH_PYTHON} cannot import torch (${r.error?.message ?? r.stderr.trim().split('\n').pop()}): install python3-torch`;
  }
  return torchChecked;
}

/** Runs a fixture script with Debian's python; returns stdout, throws with stderr on failure. */
export function runTorchPython(script: string, args: readonly string[]): string {
  const r = spawnSync(TORCH_PYTHON, [join(FIXTURES, script), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (status ${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The shipped PGD-AT Fashion-MNIST classifier (fmnist-cnn), the weights gen_torch_files.py scripts and saves. */
export const SHIPPED_CNN = join(FIXTURES, '..', '..', 'models', 'fmnist-cnn-pgd-at', 'model.safetensors');

let torchFilesDir: string | undefined;
/**
 * gen_torch_files.py's files (TorchScript, torch.save variants, PyTorch references;
 * the CNN with the shipped weights), written once per process into a temporary folder.
 * Call only when torchUnavailable() is null.
 */
export function torchFiles(): string {
  if (torchFilesDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'carso-torch-files-'));
    runTorchPython('gen_torch_files.py', [dir, SHIPPED_CNN]);
    torchFilesDir = dir;
  }
  return torchFilesDir;
}
