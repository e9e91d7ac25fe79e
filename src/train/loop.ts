// The training loop: epochs of (attack →) loss → backward → step, with a
// validation pass, an atomic checkpoint and a metrics line after every epoch.
// Resuming restores model, optimiser, schedule, loader and libtorch RNG, so a
// killed-and-resumed run ends with the same weights as an uninterrupted one.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataLoader, holdOut, loadDataset, type ImageDataset } from '../data/index.js';
import { createModel } from '../models/index.js';
import type { Module } from '../nn/index.js';
import { Adam, LRScheduler, SGD, cosine, multiStep, oneCycle, type Schedule, type OptimizerLike } from '../optim/index.js';
import { getRngState, manualSeed, resolveDevice, setNumThreads, setRngState, tidy, type Device } from '../tensor/index.js';
import { PGD } from '../attacks/pgd.js';
import { asModel } from '../attacks/model.js';
import { accuracy } from '../eval/accuracy.js';
import { saveModule } from '../io/index.js';
import { Progress } from '../util/progress.js';
import { writeFileAtomic } from '../util/fs.js';
import { validateConfig, type TrainConfig } from './config.js';
import { trainingLoss } from './methods.js';
import { resumeRun, saveCheckpoint, type RunState as CheckpointState } from './checkpoint.js';
import type { ProcessGroup } from '../dist/group.js';
import { TrainingRank } from '../dist/train.js';

export interface EpochMetrics {
  epoch: number;
  loss: number;
  trainAcc: number;
  valCleanAcc: number | null;
  valPgdAcc: number | null;
  lr: number;
  seconds: number;
}

type RunState = CheckpointState<EpochMetrics, TrainConfig>;

export interface TrainOptions {
  /** Output folder: checkpoint.safetensors, metrics.jsonl, model.safetensors. */
  out: string;
  /** Continue from out/checkpoint.safetensors when it exists. */
  resume?: boolean;
  /** Stop (after checkpointing) once this many epochs are done — for tests of resume. */
  stopAfterEpoch?: number;
  /** Where progress lines go (default: a progress bar on stderr). */
  quiet?: boolean;
  /** Data-parallel on this group (every rank calls train with the same config; src/dist/train.ts). */
  dist?: ProcessGroup | null;
}

export interface TrainResult {
  model: Module;
  metrics: EpochMetrics[];
  /** Training seconds summed over all epochs (across resumes). */
  seconds: number;
  finished: boolean;
}

function makeSchedule(c: TrainConfig, perEpoch: number): Schedule {
  const total = c.epochs * perEpoch;
  switch (c.schedule) {
    case 'constant':
      return (_t, base) => base;
    case 'multistep':
      return multiStep(c.milestones.map((e) => e * perEpoch));
    case 'cosine':
      return cosine({ tMax: total });
    case 'onecycle':
      return oneCycle({ totalSteps: total });
  }
}

function makeOptimizer(c: TrainConfig, model: Module): OptimizerLike {
  const params = model.parameters();
  return c.optimizer === 'adam'
    ? new Adam(params, { lr: c.lr, weightDecay: c.weightDecay })
    : new SGD(params, { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay });
}

/** Validation accuracies, with libtorch's RNG saved and restored so evaluation never perturbs training. */
function validate(
  model: Module,
  ds: ImageDataset,
  val: Int32Array,
  c: TrainConfig,
  device: Device,
): [number | null, number | null] {
  if (val.length === 0) return [null, null];
  const rng = getRngState();
  model.eval();
  const m = asModel(model);
  const clean = accuracy(m, ds, val, 256, undefined, device);
  const pgd =
    c.valPgdSize > 0 && c.method !== 'standard'
      ? accuracy(m, ds, val.subarray(0, c.valPgdSize), 256, new PGD({ eps: c.eps, steps: 20, alpha: c.eps / 10 }), device)
      : null;
  setRngState(rng);
  return [clean, pgd];
}

export function train(c: TrainConfig, o: TrainOptions): TrainResult {
  validateConfig(c);
  if (c.threads !== undefined) setNumThreads(c.threads);
  mkdirSync(o.out, { recursive: true });
  const ds = loadDataset(c.dataset, { root: c.dataDir, split: 'train', limit: c.limit });
  manualSeed(c.seed);
  const device = resolveDevice(c.device);
  const model = createModel(c.model, { dataset: c.dataset });
  if (device !== 'cpu') model.toDevice(device);
  const dp = new TrainingRank(o.dist, model, 'mean');
  const quiet = o.quiet === true || !dp.writes;
  const loader = new DataLoader(ds, {
    batchSize: c.batchSize,
    shuffle: true,
    seed: c.seed,
    dropLast: true,
    holdout: c.valSize > 0 ? { size: c.valSize, part: 'train' } : undefined,
    augment: c.augment ? { cropPadding: 2, flip: true } : undefined,
    device,
    shard: dp.shard(c.batchSize),
  });
  const val = c.valSize > 0 ? holdOut(ds.length, c.valSize).val : new Int32Array(0);
  const opt = makeOptimizer(c, model);
  const sched = new LRScheduler(opt, makeSchedule(c, loader.length));
  const ckpt = join(o.out, 'checkpoint.safetensors');
  let metrics: EpochMetrics[] = [];
  let start = 0;
  if (o.resume && existsSync(ckpt)) {
    const parts = { model, optimizer: opt, loader, scheduler: sched, config: c };
    // NOTE: more epochs or another thread count continue the same run.
    ({ epoch: start, metrics } = resumeRun<EpochMetrics, TrainConfig>(ckpt, {
      ...parts,
      comparable: (x) => ({ ...x, epochs: 0, threads: 0 }),
    }));
  }
  for (let epoch = start; epoch < c.epochs; epoch++) {
    if (o.stopAfterEpoch !== undefined && epoch >= o.stopAfterEpoch) break;
    const t0 = performance.now();
    dp.startEpoch(c.seed, epoch);
    const bar = new Progress(`epoch ${epoch + 1}/${c.epochs}`, loader.length, {
      unit: 'batches',
      plainEveryMs: quiet ? 1e12 : 10_000,
    });
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    model.train();
    for (const b of loader) {
      tidy(() => {
        opt.zeroGrad();
        const { loss, logits } = trainingLoss(model, b.x, b.y, c);
        loss.backward();
        dp.afterBackward();
        opt.step();
        sched.step();
        lossSum += loss.item() * b.y.size(0);
        correct += logits.argmax(1).eq(b.y).sum().item();
        seen += b.y.size(0);
      });
      b.x.dispose();
      b.y.dispose();
      bar.tick(1, `loss ${(lossSum / seen).toFixed(4)}`);
    }
    if (!quiet) bar.finish();
    [lossSum, correct, seen] = dp.totals([lossSum, correct, seen]);
    const [valCleanAcc, valPgdAcc] = dp.writes ? validate(model, ds, val, c, device) : [null, null];
    const line = {
      epoch: epoch + 1,
      loss: lossSum / seen,
      trainAcc: correct / seen,
      valCleanAcc,
      valPgdAcc,
      lr: sched.lastLr()[0]!,
      seconds: (performance.now() - t0) / 1000,
    };
    metrics.push(line);
    if (!quiet) console.error(JSON.stringify(line));
    if (!dp.writes) continue;
    saveCheckpoint<RunState>(ckpt, {
      model,
      optimizer: opt,
      state: { epoch: epoch + 1, loader: loader.state(), schedule: sched.stateDict(), metrics, config: c },
    });
    writeFileAtomic(join(o.out, 'metrics.jsonl'), metrics.map((m) => JSON.stringify(m)).join('\n') + '\n');
  }
  const finished = metrics.length >= c.epochs;
  if (finished && dp.writes) saveModule(join(o.out, 'model.safetensors'), model, { config: JSON.stringify(c) });
  dp.release();
  return { model, metrics, seconds: metrics.reduce((a, m) => a + m.seconds, 0), finished };
}
