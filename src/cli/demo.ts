// `carso demo`: the smallest honest end-to-end job until the full robustness
// demo lands — train the reference CNN for one epoch on Fashion-MNIST (the
// Debian package's copy) and report its test accuracy.
import type { Command } from 'commander';
import { DEFAULTS, type TrainConfig } from '../train/config.js';
import { train } from '../train/loop.js';
import { testAccuracy } from '../train/card.js';
import { nonNegativeInt, positiveInt } from './options.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train the reference CNN for one epoch on Fashion-MNIST and print its test accuracy')
    .option('--out <dir>', 'run folder', `runs/demo-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    .option('--seed <n>', 'seed', nonNegativeInt, 0)
    .option('--threads <n>', 'libtorch threads', positiveInt)
    .action((o: { out: string; seed: number; threads?: number }) => {
      const config: TrainConfig = { ...DEFAULTS, epochs: 1, seed: o.seed, threads: o.threads, valSize: 0, valPgdSize: 0 };
      const t0 = performance.now();
      const r = train(config, { out: o.out });
      const test = testAccuracy(r.model, config, 10_000, 0);
      const s = ((performance.now() - t0) / 1000).toFixed(0);
      console.log(`reference CNN, 1 epoch of standard training on Fashion-MNIST (${s} s)`);
      console.log(`test accuracy: ${(100 * test.clean.accuracy).toFixed(2)}% (${test.clean.correct} of ${test.clean.total})`);
      console.log(`weights and metrics: ${o.out}`);
    });
}
