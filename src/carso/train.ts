// Purifier training (carso.md 3.3-3.6): the classifier frozen, each batch split
// into clean and attacked rows (objective.ts), loss = summed BCE against the
// CLEAN images + beta(epoch) KL, RAdam + Lookahead (k 6, alpha 0.8) with the
// warm-up / flat / decay schedule scaled by the batch size, stepped per epoch.
// After every epoch: an atomic checkpoint (purifier, optimiser, RNG, loader,
// schedule) and metrics.jsonl; --resume continues bit for bit. At the end the
// Lookahead slow weights are loaded and the purifier is saved without its
// encoder (as the reference): <out>/purifier.safetensors.
//
//     const carso = new Carso(wrn, { geometry: GEOMETRIES.cifar10, taps: wrn.carsoTapNames() });
//     trainPurifier(carso, loadDataset('cifar10'), { ...purifierDefaults('cifar10'), seed: 0 }, { out: 'runs/p' });
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataLoader, type ImageDataset } from '../data/index.js';
import { carsoTraining } from '../optim/index.js';
import { manualSeed, tidy } from '../tensor/index.js';
import { asModel } from '../attacks/index.js';
import { resumeRun, saveCheckpoint, type RunState as CheckpointState } from '../train/checkpoint.js';
import { Progress } from '../util/progress.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Carso } from './carso.js';
import { purifierConfigErrors, type PurifierTrainConfig } from './config.js';
import {
  adversarialBatch,
  betaAt,
  betaScaled,
  chunkSize,
  endToEndModel,
  purifierLoss,
  type AdversarialSplit,
} from './objective.js';
import { savePurifier } from './purifier.js';
import type { ProcessGroup } from '../dist/group.js';
import { TrainingRank } from '../dist/train.js';

export interface PurifierTrainOptions {
  /** Output folder: checkpoint.safetensors, metrics.jsonl, purifier.safetensors. */
  out: string;
  /** Continue from out/checkpoint.safetensors when it exists. */
  resume?: boolean;
  /** Stop (after checkpointing) once this many epochs are done — for resume tests. */
  stopAfterEpoch?: number;
  /** Also save the encoder in purifier.safetensors (default false, as the reference). */
  saveEncoder?: boolean;
  quiet?: boolean;
  /** Extra card.json fields (e.g. the command and the classifier's weights). */
  card?: Record<string, unknown>;
  /** Data-parallel on this group (every rank calls trainPurifier alike; src/dist/train.ts). */
  dist?: ProcessGroup | null;
}

export interface PurifierEpochMetrics {
  epoch: number;
  /** Per training point: summed loss, BCE and (unweighted) KL over the epoch / points seen. */
  loss: number;
  bce: number;
  kld: number;
  /** Per point: the classifier's CE on the reconstructions (only with a class weight). */
  ce?: number;
  /** The KL weight (its mean over the epoch's batches under the 'scaled' schedule). */
  beta: number;
  lr: number;
  seconds: number;
  /** CPU seconds of this process (user + system) over the epoch: the cost on a shared machine, where wall seconds inflate. */
  cpuSeconds: number;
}

type RunState = CheckpointState<PurifierEpochMetrics, PurifierTrainConfig>;

export interface PurifierTrainResult {
  metrics: PurifierEpochMetrics[];
  finished: boolean;
}

/** Trains `carso`'s purifier on `ds` (which must match its geometry); see the header. */
export function trainPurifier(
  carso: Carso,
  ds: ImageDataset,
  c: PurifierTrainConfig,
  o: PurifierTrainOptions,
): PurifierTrainResult {
  const errs = purifierConfigErrors(c);
  if (errs.length > 0) throw new Error(`invalid purifier training configuration:\n  - ${errs.join('\n  - ')}`);
  const g = carso.geometry;
  if (ds.imageShape.join() !== [g.channels, g.size, g.size].join())
    throw new Error(
      `trainPurifier: ${ds.name} images are [${ds.imageShape.join(', ')}], the purifier's geometry [${g.channels}, ${g.size}, ${g.size}]`,
    );
  if (!carso.purifier.hasEncoder) throw new Error('trainPurifier: the purifier was built without its encoder');
  mkdirSync(o.out, { recursive: true });
  manualSeed(c.seed);
  const device = carso.purifierParameters()[0]!.device;
  // NOTE: the loss sums over the batch, so the ranks' gradients are summed, not averaged (src/dist/train.ts).
  const dp = new TrainingRank(o.dist, carso.purifier, 'sum');
  const quiet = o.quiet === true || !dp.writes;
  const shard = dp.shard(c.batchSize);
  // NOTE: dropLast: a last batch of a few rows would give noisy BatchNorm statistics (the reference keeps it).
  const loader = new DataLoader(ds, { batchSize: c.batchSize, shuffle: true, seed: c.seed, dropLast: true, device, shard });
  const { opt, sched } = carsoTraining(carso.purifierParameters(), c.epochs, c.batchSize);
  const ckpt = join(o.out, 'checkpoint.safetensors');
  let metrics: PurifierEpochMetrics[] = [];
  let start = 0;
  if (o.resume && existsSync(ckpt))
    ({ epoch: start, metrics } = resumeRun<PurifierEpochMetrics, PurifierTrainConfig>(ckpt, {
      model: carso.purifier,
      optimizer: opt,
      loader,
      scheduler: sched,
      config: c,
    }));
  const classifier = asModel(carso.classifier);
  const split = splitOf(carso, c);
  for (let epoch = start; epoch < c.epochs && epoch < (o.stopAfterEpoch ?? Infinity); epoch++) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sums = { loss: 0, bce: 0, kld: 0, ce: 0, beta: 0, n: 0, batches: 0 };
    dp.startEpoch(c.seed, epoch);
    const bar = quiet ? null : new Progress(`purifier epoch ${epoch + 1}/${c.epochs}`, loader.length, { unit: 'batches' });
    carso.train();
    for (const b of loader) {
      const beta =
        c.betaSchedule === 'scaled' ? betaScaled(epoch + sums.batches / loader.length, c.epochs) : betaAt(epoch, c.epochs);
      tidy(() => {
        // NOTE: the end-to-end attacker sees CARSO as at inference (purifier BatchNorms on running statistics)
        if (split.endToEnd) carso.eval();
        const xTilde = adversarialBatch(classifier, b.x, b.y, split);
        carso.train();
        opt.zeroGrad();
        const term = c.classWeight > 0 ? { classifier, y: b.y, weight: c.classWeight } : undefined;
        const r = purifierLoss(carso.forwardTrain(xTilde), b.x, beta, c.freeBits, term);
        r.loss.backward();
        dp.afterBackward();
        opt.step();
        sums.loss += r.loss.item();
        sums.bce += r.bce.item();
        sums.kld += r.kld.item();
        sums.ce += r.ce?.item() ?? 0;
        sums.n += b.x.size(0);
        sums.beta += beta;
        sums.batches += 1;
      });
      b.x.dispose();
      b.y.dispose();
      bar?.tick(1, `loss/pt ${(sums.loss / sums.n).toFixed(2)}`);
    }
    bar?.finish();
    [sums.loss, sums.bce, sums.kld, sums.n] = dp.totals([sums.loss, sums.bce, sums.kld, sums.n]);
    const lr = sched.lastLr()[0]!;
    sched.step();
    const n = Math.max(1, sums.n);
    const line = {
      epoch: epoch + 1,
      loss: sums.loss / n,
      bce: sums.bce / n,
      kld: sums.kld / n,
      ...(c.classWeight > 0 ? { ce: sums.ce / n } : {}),
      beta: sums.beta / Math.max(1, sums.batches),
      lr,
      seconds: (performance.now() - t0) / 1000,
      cpuSeconds: cpuSecondsSince(cpu0),
    };
    metrics.push(line);
    if (!quiet) console.error(JSON.stringify(line));
    if (!dp.writes) continue;
    const state: RunState = { epoch: epoch + 1, loader: loader.state(), schedule: sched.stateDict(), metrics, config: c };
    saveCheckpoint<RunState>(ckpt, { model: carso.purifier, optimizer: opt, state });
    writeFileAtomic(join(o.out, 'metrics.jsonl'), metrics.map((m) => JSON.stringify(m)).join('\n') + '\n');
  }
  const finished = metrics.length >= c.epochs;
  dp.release();
  if (finished) opt.loadSlowWeights();
  if (finished && dp.writes) {
    savePurifier(join(o.out, 'purifier.safetensors'), carso.purifier, {
      encoder: o.saveEncoder ?? false,
      taps: carso.tapNames,
      metadata: { config: JSON.stringify(c), attackedPerChunk: String(chunkSize(c.batchSize, c.perturbedFraction)) },
    });
  }
  opt.dispose();
  carso.eval();
  if (finished && dp.writes) writePurifierCard(o.out, c, carso.tapNames, metrics, o.card);
  return { metrics, finished };
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** The batch split of config c: the paper's four classifier chunks, plus the end-to-end rows when asked for. */
function splitOf(carso: Carso, c: PurifierTrainConfig): AdversarialSplit {
  const split: AdversarialSplit = {
    fraction: c.perturbedFraction,
    epsWeak: c.epsWeak,
    epsStrong: c.epsStrong,
    pgdSteps: c.pgdSteps,
    pgdStepSize: c.pgdStepSize,
  };
  if (c.e2eFraction === 0) return split;
  const model = endToEndModel(carso, c.e2eSamples);
  return {
    ...split,
    endToEnd: {
      model,
      fraction: c.e2eFraction,
      attack: c.e2eAttack,
      eps: c.e2eEps,
      steps: c.e2eSteps,
      step: c.e2eStep,
      loss: c.e2eLoss,
    },
  };
}

/** The command line that reproduces a purifier training run (every recipe value spelled out). */
export function purifierCommand(
  c: PurifierTrainConfig,
  classifierWeights: string,
  out: string,
  taps?: readonly string[],
): string {
  return [
    `carso train-purifier --dataset ${c.dataset} --classifier-weights ${classifierWeights}`,
    ...(taps ? [`--taps ${taps.join(',')}`] : []),
    `--epochs ${c.epochs} --batch-size ${c.batchSize} --perturbed-fraction ${c.perturbedFraction}`,
    `--eps-weak ${c.epsWeak} --eps-strong ${c.epsStrong} --pgd-steps ${c.pgdSteps} --pgd-step ${c.pgdStepSize}`,
    ...(c.e2eFraction > 0
      ? [
          `--e2e-fraction ${c.e2eFraction} --e2e-attack ${c.e2eAttack} --e2e-eps ${c.e2eEps} --e2e-steps ${c.e2eSteps}`,
          `--e2e-step ${c.e2eStep} --e2e-loss ${c.e2eLoss} --e2e-samples ${c.e2eSamples}`,
        ]
      : []),
    `--beta-schedule ${c.betaSchedule} --free-bits ${c.freeBits} --class-weight ${c.classWeight}`,
    `--seed ${c.seed} --threads 1 --out ${out}`,
  ].join(' ');
}

/** <out>/card.json: the recipe, taps, training time and last epoch (evaluations are added by whoever runs them). */
export function writePurifierCard(
  out: string,
  c: PurifierTrainConfig,
  taps: readonly string[],
  metrics: readonly PurifierEpochMetrics[],
  extra: Record<string, unknown> = {},
): void {
  const card = {
    kind: 'carso-purifier',
    dataset: c.dataset,
    taps,
    recipe: c,
    trainingSeconds: metrics.reduce((a, m) => a + m.seconds, 0),
    trainingCpuSeconds: metrics.reduce((a, m) => a + (m.cpuSeconds ?? 0), 0),
    lastEpoch: metrics[metrics.length - 1] ?? null,
    ...extra,
  };
  writeFileAtomic(join(out, 'card.json'), JSON.stringify(card, null, 2) + '\n');
}
