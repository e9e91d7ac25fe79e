// `carso train`: train a classifier (standard or adversarial) with per-epoch
// checkpoints, --resume, metrics.jsonl, and a model card at the end.
import { join } from 'node:path';
import type { Command } from 'commander';
import { DATASET_NAMES } from '../data/index.js';
import { modelNames } from '../models/index.js';
import { DEFAULTS, METHODS, OPTIMIZERS, SCHEDULES, validateConfig, type TrainConfig } from '../train/config.js';
import { train } from '../train/loop.js';
import { DEFAULT_TEST_POINTS, makeCard, testAccuracy } from '../train/card.js';
import { writeFileAtomic } from '../util/fs.js';
import { choice, epsilon, intList, nonNegative, nonNegativeInt, number, positiveInt, THREADS_HELP } from './options.js';
import { addDistOptions, joinGroup, type DistFlags } from './dist.js';

interface TrainFlags extends Omit<TrainConfig, 'milestones' | 'eps'>, DistFlags {
  eps: number;
  milestones?: number[];
  out: string;
  resume?: boolean;
  testPoints: number;
}

export function registerTrain(program: Command): void {
  const d = DEFAULTS;
  addDistOptions(program.command('train'))
    .description('train a classifier: standard, PGD adversarial training, TRADES or fast (FGSM-RS) AT')
    .option('--dataset <name>', `dataset (${DATASET_NAMES.join(', ')})`, choice(DATASET_NAMES), d.dataset)
    .option('--data-dir <dir>', 'dataset folder (default: the standard location, $CARSO_DATA/<name> or the Debian package path)')
    .option('--model <name>', `architecture (${modelNames.join(', ')})`, choice(modelNames), d.model)
    .option('--method <m>', `training objective (${METHODS.join(', ')})`, choice(METHODS), d.method)
    .option('--eps <eps>', 'Linf radius of the training attack, in (0, 1] (e.g. 0.1 or 8/255)', epsilon, d.eps)
    .option('--alpha <a>', 'attack step (default: fast-at 1.25 eps; pgd-at/trades 2.5 eps/steps)', number)
    .option('--steps <n>', 'attack steps for pgd-at and trades', positiveInt, d.steps)
    .option('--beta <b>', 'TRADES robustness weight', nonNegative, d.beta)
    .option('--epochs <n>', 'epochs', positiveInt, d.epochs)
    .option('--batch-size <n>', 'batch size', positiveInt, d.batchSize)
    .option('--optimizer <o>', `optimiser (${OPTIMIZERS.join(', ')})`, choice(OPTIMIZERS), d.optimizer)
    .option('--lr <lr>', 'learning rate (the peak for onecycle)', number, d.lr)
    .option('--momentum <m>', 'SGD momentum', nonNegative, d.momentum)
    .option('--nesterov', 'Nesterov momentum')
    .option('--weight-decay <wd>', 'L2 weight decay', nonNegative, d.weightDecay)
    .option('--schedule <s>', `LR schedule per batch (${SCHEDULES.join(', ')})`, choice(SCHEDULES), d.schedule)
    .option('--milestones <epochs>', 'multistep: comma-separated epochs where the lr drops x0.1', intList)
    .option('--augment', 'random crop (pad 2) and horizontal flip')
    .option('--seed <n>', 'seed for initialisation, shuffling and attacks', nonNegativeInt, d.seed)
    .option('--limit <n>', 'use only the first N training points', positiveInt)
    .option('--val-size <n>', 'training points held out for validation', nonNegativeInt, d.valSize)
    .option('--val-pgd-size <n>', 'validation points attacked with PGD-20 each epoch', nonNegativeInt, d.valPgdSize)
    .option('--threads <n>', THREADS_HELP, positiveInt)
    .option('--device <d>', 'cpu or cuda[:N] (needs a CUDA libtorch)', d.device)
    .option(
      '--test-points <n>',
      'test images for the final clean / PGD-20 evaluation in card.json',
      nonNegativeInt,
      DEFAULT_TEST_POINTS,
    )
    .requiredOption('--out <dir>', 'output folder (checkpoint, metrics.jsonl, model.safetensors, card.json)')
    .option('--resume', 'continue from <out>/checkpoint.safetensors (on any number of ranks that divides the batch size)')
    .action((flags: TrainFlags) => {
      const { out, resume, testPoints, launcher, masterAddr, masterPort, distBackend, distTimeout, pinCpus, ...rest } = flags;
      const config: TrainConfig = {
        ...d,
        ...rest,
        milestones: flags.milestones ?? [],
        nesterov: !!flags.nesterov,
        augment: !!flags.augment,
      };
      validateConfig(config);
      const dist = joinGroup({ launcher, masterAddr, masterPort, distBackend, distTimeout, pinCpus, threads: rest.threads });
      const r = train(config, { out, resume: !!resume, dist });
      dist?.destroy();
      if (!r.finished || (dist !== null && dist.rank !== 0)) return; // rank 0 writes the card
      const test = testAccuracy(r.model, config, testPoints, config.method === 'standard' ? 0 : config.eps);
      const card = makeCard(config, out, r.seconds, test);
      writeFileAtomic(join(out, 'card.json'), JSON.stringify(card, null, 2) + '\n');
      console.log(JSON.stringify({ out, trainingSeconds: card.trainingSeconds, test }, null, 2));
    });
}
