// Resumable checkpoints: one safetensors file holding the model
// (`model.<key>`, PyTorch names), the optimiser's tensors (`optim.<key>`) and
// libtorch's RNG state (`rng.torch`); everything else (epoch, schedule, loader
// RNG, metrics so far) is JSON in the file's metadata. Written atomically, so
// a killed run leaves the previous checkpoint intact.
import type { Module } from '../nn/index.js';
import type { LoaderState } from '../data/index.js';
import type { LRSchedulerState, OptimizerLike, OptimizerState } from '../optim/index.js';
import type { RngState } from '../data/random.js';
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

/** What resumeRun restores besides the checkpoint's tensors. */
export interface ResumeParts<C> extends Omit<CheckpointParts<unknown>, 'state'> {
  loader: { setState(s: LoaderState): void };
  scheduler: { loadStateDict(s: LRSchedulerState): void };
  /** This run's configuration: the checkpoint's must match it. */
  config: C;
  /** What of a configuration must match (default: all of it). */
  comparable?: (c: C) => unknown;
}

/**
 * Resumes an epoch loop from the checkpoint at `path`: model, optimiser, RNG,
 * loader position and schedule step, after checking the run state's fields and
 * that it was made with this configuration. Returns the epochs done and the
 * metrics so far. Every error names the file.
 */
export function resumeRun<M, C>(path: string, p: ResumeParts<C>): { epoch: number; metrics: M[] } {
  return namingFile('resume', path, () => {
    const s = loadCheckpoint<RunState<M, C>>(path, p.model, p.optimizer);
    checkRunState(s);
    const same = p.comparable ?? ((c: C) => c);
    if (JSON.stringify(same(s.config)) !== JSON.stringify(same(p.config)))
      throw new Error(`${path} was made with another configuration; use another --out or the same flags`);
    p.loader.setState(s.loader);
    p.scheduler.loadStateDict(s.schedule);
    return { epoch: s.epoch, metrics: s.metrics };
  });
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isRng = (v: unknown): v is RngState =>
  typeof v === 'object' && v !== null && typeof (v as RngState).state === 'string' && typeof (v as RngState).inc === 'string';

/** The run state's fields with their types (a corrupt checkpoint fails here, not epochs later). */
function checkRunState(s: unknown): asserts s is RunState<unknown, unknown> {
  const r = s as Record<string, unknown> | null;
  const bad = (what: string): never => {
    throw new Error(`run state: ${what}`);
  };
  if (typeof r !== 'object' || r === null) bad('missing');
  if (!isCount(r!['epoch'])) bad(`epoch ${JSON.stringify(r!['epoch'])} is not a count`);
  if (!Array.isArray(r!['metrics'])) bad('metrics is not a list');
  const l = r!['loader'] as Record<string, unknown> | null;
  if (typeof l !== 'object' || l === null || !isCount(l['epoch']) || !isCount(l['batch']) || !isCount(l['size']))
    bad('loader position is not epoch, batch and size counts');
  if (!isRng(l!['order']) || !isRng(l!['augment'])) bad('loader random streams are missing');
  const sc = r!['schedule'] as Record<string, unknown> | null;
  const lrs = sc?.['baseLrs'];
  if (typeof sc !== 'object' || sc === null || !isCount(sc['t']) || !Array.isArray(lrs) || !lrs.every(Number.isFinite))
    bad('schedule is not a step count and finite base learning rates');
}
