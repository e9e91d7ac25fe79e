// Resumable checkpoints: one safetensors file holding the model
// (`model.<key>`, PyTorch names), the optimiser's tensors (`optim.<key>`) and
// libtorch's RNG state (`rng.torch`); everything else (epoch, schedule, loader
// RNG, metrics so far) is JSON in the file's metadata. Written atomically, so
// a killed run leaves the previous checkpoint intact.
import type { Module } from '../nn/index.js';
import type { LoaderState } from '../data/index.js';
import type { LRSchedulerState, OptimizerLike, OptimizerState } from '../optim/index.js';
import { readSafetensors, writeSafetensors } from '../io/index.js';
import { Tensor, dispose, getRngState, setRngState, tensor } from '../tensor/index.js';
import { namingFile } from '../util/fs.js';

const FORMAT = 'carso-checkpoint/1';

/** The JSON part of an epoch-loop checkpoint (classifier and purifier training). */
export interface RunState<Metrics, Config> {
  /** Epochs completed. */
  epoch: number;
  loader: LoaderState;
  schedule: LRSchedulerState;
  metrics: Metrics[];
  config: Config;
}

export interface CheckpointParts<S> {
  model: Module;
  optimizer: OptimizerLike;
  /** JSON-serialisable run state (epoch, loader RNG, scheduler step, ...). */
  state: S;
}

export function saveCheckpoint<S>(path: string, { model, optimizer, state }: CheckpointParts<S>): void {
  const opt = optimizer.stateDict();
  const tensors: Record<string, Tensor> = {};
  for (const [k, v] of model.stateDict()) tensors[`model.${k}`] = v;
  for (const [k, v] of Object.entries(opt.tensors)) tensors[`optim.${k}`] = v;
  const rng = getRngState();
  tensors['rng.torch'] = tensor(rng, [rng.length], 'uint8');
  try {
    const { tensors: _t, ...optJson } = opt;
    writeSafetensors(path, tensors, { format: FORMAT, state: JSON.stringify(state), optimizer: JSON.stringify(optJson) });
  } finally {
    dispose([Object.values(opt.tensors), tensors['rng.torch']]);
  }
}

/** Restores model, optimiser and libtorch RNG from `path`; returns the run state. Errors name the file. */
export function loadCheckpoint<S>(path: string, model: Module, optimizer: OptimizerLike): S {
  return namingFile('loadCheckpoint', path, () => restore<S>(path, model, optimizer));
}

function restore<S>(path: string, model: Module, optimizer: OptimizerLike): S {
  const { tensors, metadata } = readSafetensors(path);
  try {
    if (metadata['format'] !== FORMAT)
      throw new Error(`${path}: not a carso checkpoint (format '${metadata['format'] ?? 'none'}')`);
    const part = (prefix: string): Map<string, Tensor> =>
      new Map([...tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
    model.loadStateDict(part('model.'));
    const optJson = JSON.parse(metadata['optimizer'] ?? '{}') as Omit<OptimizerState, 'tensors'>;
    optimizer.loadStateDict({ ...optJson, tensors: Object.fromEntries(part('optim.')) });
    const rng = tensors.get('rng.torch');
    if (rng === undefined) throw new Error(`${path}: checkpoint has no RNG state`);
    setRngState(rng.toBytes());
    return JSON.parse(metadata['state'] ?? 'null') as S;
  } finally {
    dispose([...tensors.values()]);
  }
}
