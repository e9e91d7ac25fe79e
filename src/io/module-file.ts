// A module's weights as a .safetensors file with PyTorch's state-dict names,
// so the same file loads in PyTorch (safetensors.torch.load_file + load_state_dict).
import { dispose } from '../tensor/index.js';
import type { Module } from '../nn/index.js';
import { readSafetensors, writeSafetensors, type Metadata } from './safetensors.js';

/** Writes module.stateDict() (parameters and buffers) atomically to `path`. */
export function saveModule(path: string, module: Module, metadata: Metadata = {}): void {
  writeSafetensors(path, module.stateDict(), metadata);
}

/**
 * Loads `path` into `module` in place (strict by default: every key must match,
 * with the same shape and dtype). Returns the file's metadata.
 */
export function loadModule(path: string, module: Module, opts: { strict?: boolean } = {}): Metadata {
  const { tensors, metadata } = readSafetensors(path);
  try {
    module.loadStateDict(tensors, opts);
  } catch (err) {
    throw new Error(`loadModule: ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    dispose([...tensors.values()]);
  }
  return metadata;
}
