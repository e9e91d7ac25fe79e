// Loading a state dict into a module (torch.nn.Module.load_state_dict). Every
// check runs before anything is copied, so a failed load leaves the module as
// it was; the error lists every offending key at once.
import { noGrad, type Tensor } from '../tensor/index.js';
import type { Module } from './module.js';

/** name -> tensor, as `Module.stateDict()` returns or `readSafetensors` reads. */
export type StateDictInput = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

export interface LoadResult {
  /** The module's keys absent from the dict (an error when strict). */
  missingKeys: string[];
  /** The dict's keys the module does not have (an error when strict). */
  unexpectedKeys: string[];
}

/** The [name, tensor] pairs of either form, in order. */
export function stateEntries(dict: StateDictInput): [string, Tensor][] {
  return dict instanceof Map ? [...(dict as ReadonlyMap<string, Tensor>)] : Object.entries(dict);
}

const shapeStr = (t: Tensor): string => `[${t.shape.join(', ')}]`;

/**
 * Copies `dict` into `module`'s parameters and buffers in place (no grad).
 * strict (default true): missing or unexpected keys throw. Shape or dtype
 * mismatches always throw (NOTE: stricter than PyTorch, which casts dtypes
 * silently: a float64 checkpoint loaded into a float32 model is a bug here).
 */
export function loadStateDict(module: Module, dict: StateDictInput, { strict = true }: { strict?: boolean } = {}): LoadResult {
  const own = module.stateDict();
  const given = new Map(stateEntries(dict));
  const missingKeys = [...own.keys()].filter((k) => !given.has(k));
  const unexpectedKeys = [...given.keys()].filter((k) => !own.has(k));
  const problems: string[] = [];
  if (strict && missingKeys.length > 0) problems.push(`missing keys: ${missingKeys.join(', ')}`);
  if (strict && unexpectedKeys.length > 0) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
  for (const [k, src] of given) {
    const dst = own.get(k);
    if (dst === undefined) continue;
    if (src.shape.join() !== dst.shape.join() || src.ndim !== dst.ndim)
      problems.push(`shape mismatch for ${k}: checkpoint ${shapeStr(src)}, model ${shapeStr(dst)}`);
    if (src.dtype !== dst.dtype) problems.push(`dtype mismatch for ${k}: checkpoint ${src.dtype}, model ${dst.dtype}`);
  }
  if (problems.length > 0)
    throw new Error(`loadStateDict(${module.constructor.name}): ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  noGrad(() => {
    for (const [k, src] of given) own.get(k)?.copy_(src);
  });
  return { missingKeys, unexpectedKeys };
}
