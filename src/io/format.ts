// Which kind of weights file a path holds, told from its content (the extension
// is not trusted: .pt is used for both torch.save and torch.jit.save files):
//   safetensors  [u64 header length]['{' ...]
//   torchscript  a zip archive with <archive>/constants.pkl or <archive>/code/ (torch.jit.save)
//   torch        a zip archive with <archive>/data.pkl (torch.save, PyTorch >= 1.6)
//   torch        a pickle (protocol byte 0x80): torch.save's legacy format
import { readFileSync } from 'node:fs';
import { isZip, ZipArchive } from './zip.js';

export type WeightsFormat = 'safetensors' | 'torch' | 'torchscript';

/** The format of `bytes` (the content of `path`, named in errors). */
export function weightsFormat(path: string, bytes: Uint8Array = readFileSync(path)): WeightsFormat {
  if (isZip(bytes)) {
    const names = [...new ZipArchive(bytes, path).entries.keys()];
    if (names.some((n) => /^[^/]+\/(constants\.pkl|code\/)/.test(n))) return 'torchscript';
    if (names.some((n) => /^[^/]+\/data\.pkl$/.test(n))) return 'torch';
    throw new Error(`${path}: a zip archive, but neither a torch.save nor a torch.jit.save file`);
  }
  if (bytes[0] === 0x80) return 'torch';
  if (bytes.length >= 9 && bytes[8] === 0x7b) return 'safetensors';
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new Error(`${path}: not a safetensors, torch.save or TorchScript file (it starts with bytes ${head})`);
}
