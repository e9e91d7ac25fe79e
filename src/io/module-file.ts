// A module's weights on disk. Written as .safetensors with PyTorch's state-dict
// names, so the same file loads in PyTorch (safetensors.torch.load_file +
// load_state_dict); read from safetensors or from a torch.save checkpoint
// (.pt / .pth: torch-file.ts, read as data, nothing in it runs), told apart by content.
import { readFileSync } from 'node:fs';
import { dispose, type Tensor } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import { weightsFormat } from './format.js';
import { decodeSafetensors, writeSafetensors, type Metadata } from './safetensors.js';
import { readTorchStateDict } from './torch-file.js';

/** Writes module.stateDict() (parameters and buffers) atomically to `path`. */
export function saveModule(path: string, module: Module, metadata: Metadata = {}): void {
  writeSafetensors(path, module.stateDict(), metadata);
}

/**
 * The state dict in a weights file: safetensors (with its metadata), or a torch.save
 * checkpoint (no metadata; the dict may sit under 'state_dict', 'model_state_dict',
 * 'model' or 'net', DataParallel's 'module.' prefix is dropped). The caller owns the tensors.
 */
export function readWeights(path: string): { tensors: Map<string, Tensor>; metadata: Metadata } {
  const bytes = readFileSync(path);
  const format = weightsFormat(path, bytes);
  if (format === 'safetensors') return decodeSafetensors(bytes, path);
  if (format === 'torch') return { tensors: readTorchStateDict(path, bytes), metadata: {} };
  throw new Error(`${path}: a TorchScript module (torch.jit.save), not a state dict: load it with ScriptModule.load`);
}

/**
 * Loads the weights in `path` (see readWeights) into `module` in place (strict
 * by default: every key must match, with the same shape and dtype). Returns the
 * file's metadata ({} for torch.save files).
 */
export function loadModule(path: string, module: Module, opts: { strict?: boolean } = {}): Metadata {
  const { tensors, metadata } = readWeights(path);
  try {
    module.loadStateDict(tensors, opts);
  } catch (err) {
    throw new Error(`loadModule: ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    dispose([...tensors.values()]);
  }
  return metadata;
}
