// A TorchScript archive (torch.jit.save) checked before libtorch reads it.
// libtorch 1.13's torch::jit::load trusts its input: its unpickler does not
// check the stack (a swapped opcode destroys a garbage value and aborts the
// process), allocates whatever a string length claims (gigabytes from a few
// bytes): bench/fuzz found both. And it sizes a storage from the pickle's
// element count whatever its record holds (test/io/torchscript-check.test.ts). So
// this checks, naming the file:
//  - the zip structure: every entry inside the file, a stored entry's two sizes
//    equal, no two entries whose names fold together (ZipArchive);
//  - every pickle (data.pkl, constants.pkl, code/**.debug_pkl) read through
//    for structure: stack, marks, memo, lengths (an opaque read: libtorch's
//    classes stay uninterpreted, nothing is called);
//  - every tensor of <archive>/X.pkl inside its storage, and every storage's
//    element count inside its record <archive>/X/<key>.
// Not checked: the TorchScript source under code/ (libtorch's compiler reports
// its errors as exceptions, which reach JavaScript as Errors).
import { readFileSync } from 'node:fs';
import type { DType } from '../tensor/index.js';
import { unpickle } from './pickle.js';
import { DTYPE_BYTES } from './safetensors.js';
import { checkReach, torchUnpickleOptions, type TensorRef } from './torch-file.js';
import { ZipArchive } from './zip.js';

const PICKLE = /\.(pkl|debug_pkl)$/;

/** Throws an Error naming `path` unless its content passes the checks above. */
export function checkTorchScriptArchive(path: string, bytes: Uint8Array = readFileSync(path)): void {
  const zip = new ZipArchive(bytes, path);
  const names = [...zip.entries.keys()];
  // NOTE: libtorch takes the archive's folder from the first entry's name
  if (names.length === 0 || !names[0]!.includes('/'))
    throw new Error(`${path}: not a TorchScript archive (no entries in a folder)`);
  for (const name of names) {
    const data = zip.read(name);
    if (PICKLE.test(name)) checkPickle(path, zip, name, data);
  }
}

function checkPickle(path: string, zip: ZipArchive, name: string, data: Uint8Array): void {
  const tensors: TensorRef[] = [];
  const o = torchUnpickleOptions(`${path}: ${name}`, new Map<string, DType>(), (r) => tensors.push(r));
  unpickle(data, { ...o, opaque: true });
  const folder = name.replace(PICKLE, '');
  for (const r of tensors) {
    const { key, numel, dtype } = r.storage;
    const record = zip.entries.get(`${folder}/${key}`);
    if (record === undefined) throw new Error(`${path}: ${name} names storage '${key}', but there is no ${folder}/${key}`);
    if (numel === null || numel * DTYPE_BYTES[dtype] > record.size)
      throw new Error(
        `${path}: storage '${key}' claims ${String(numel)} ${dtype} elements, but ${folder}/${key} holds ${record.size} bytes (corrupt file)`,
      );
    checkReach(`${path}: ${name}`, r, numel);
  }
}
