// The classifier behind a command's weights flag (attack --model, train-purifier /
// eval / demo --classifier-weights). The file's content says what it is:
//   a TorchScript module (torch.jit.save): its own architecture, no --arch needed;
//   a state dict (safetensors, or torch.save .pt/.pth, read as data): loaded into
//   one of carso's architectures, named by the caller's flag.
import { loadModule, weightsFormat } from '../io/index.js';
import { createModel } from '../models/index.js';
import { ScriptModule, type Module } from '../nn/index.js';
import type { Device } from '../tensor/index.js';

/** The `arch` reported for a TorchScript classifier. */
export const TORCHSCRIPT = 'torchscript';

/** What every weights flag's help says the file may be. */
export const WEIGHTS_HELP =
  'safetensors or torch.save state dict (.pt/.pth) for the architecture flag, or a TorchScript module (torch.jit.save; no architecture needed)';

export interface LoadedClassifier {
  module: Module;
  /** The architecture name, or 'torchscript'. */
  arch: string;
}

/** Whether `file` holds a TorchScript module (read from its content). */
export const isTorchScript = (file: string): boolean => weightsFormat(file) === 'torchscript';

/** The classifier in `file`, in eval mode on `device` (default cpu). */
export function loadClassifier(file: string, o: { arch: string; dataset?: string; device?: Device }): LoadedClassifier {
  const device = o.device ?? 'cpu';
  if (isTorchScript(file)) return { module: ScriptModule.load(file, { device }).eval(), arch: TORCHSCRIPT };
  const module = createModel(o.arch, { dataset: o.dataset });
  try {
    loadModule(file, module);
  } catch (err) {
    module.dispose();
    throw err;
  }
  if (device !== 'cpu') module.toDevice(device);
  return { module: module.eval(), arch: o.arch };
}
