// `carso demo`: what carso does, in a few minutes on a laptop CPU.
//   1. train the reference CNN for one epoch on Fashion-MNIST (the Debian
//      package's copy) and measure its test accuracy;
//   2. AutoAttack (standard, Linf eps 0.1) on the shipped adversarially trained
//      classifier and on the shipped standard one, first --n test images.
// The numbers go to <out>/demo.json and a table on stdout. (The CARSO defence
// and the HTML report join the demo when a purifier ships.)
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { asModel } from '../attacks/index.js';
import { loadDataset, makeBatch } from '../data/index.js';
import { range } from '../eval/accuracy.js';
import { runAutoAttack } from '../eval/autoattack.js';
import { loadModule } from '../io/index.js';
import { createModel } from '../models/index.js';
import { dispose, setNumThreads } from '../tensor/index.js';
import { DEFAULTS, type TrainConfig } from '../train/config.js';
import { train } from '../train/loop.js';
import { testAccuracy, type Count } from '../train/card.js';
import { writeFileAtomic } from '../util/fs.js';
import { cascadeProgress, pct } from './attack.js';
import { nonNegativeInt, positiveInt } from './options.js';

/** The repository's models/ folder (src/cli and dist/cli both sit two levels below the root). */
const MODELS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');
const SHIPPED = [
  { name: 'fmnist-cnn-pgd-at', what: 'adversarially trained (PGD-AT, eps 0.1)' },
  { name: 'fmnist-cnn-standard', what: 'standard training' },
];

interface DemoOptions {
  out: string;
  seed: number;
  n: number;
  threads?: number;
  train: boolean;
}

interface Row {
  model: string;
  what: string;
  clean: Count;
  autoattack: Count;
  perAttack: { name: string; robust: number; seconds: number }[];
  /** AutoAttack's sanity checks that fired (e.g. Square beating the gradient attacks). */
  warnings: string[];
  seconds: number;
}

function count(k: number, n: number): Count {
  return { correct: k, total: n, accuracy: k / Math.max(1, n) };
}

/** AutoAttack standard on the first n test images for one shipped classifier. */
function attackShipped(name: string, what: string, n: number, seed: number): Row {
  const file = join(MODELS, name, 'model.safetensors');
  if (!existsSync(file)) throw new Error(`shipped model '${file}' is missing (run from a carso checkout)`);
  const net = createModel('fmnist-cnn');
  loadModule(file, net);
  net.eval();
  const ds = loadDataset('fashion-mnist', { split: 'test', limit: n });
  const { x, y } = makeBatch(ds, range(0, ds.length));
  const t0 = performance.now();
  console.error(`AutoAttack standard, Linf eps 0.1, on ${name} (${what}), first ${ds.length} test images`);
  const warnings: string[] = [];
  const onWarning = (w: { check: string; message: string }): void => {
    warnings.push(`${w.check}: ${w.message}`);
    console.error(`warning (${w.check}): ${w.message}`);
  };
  const r = runAutoAttack(asModel(net), x, y, {
    norm: 'Linf',
    eps: 0.1,
    version: 'standard',
    seed,
    onEvent: cascadeProgress(),
    onWarning,
  });
  dispose([x, y, r.xAdv]);
  net.dispose();
  return {
    model: name,
    what,
    clean: count(r.clean.correct, r.clean.total),
    autoattack: count(r.robust.correct, r.robust.total),
    perAttack: r.perAttack.map((a) => ({ name: a.name, robust: a.robust, seconds: a.seconds })),
    warnings,
    seconds: (performance.now() - t0) / 1000,
  };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train a CNN for one epoch, then AutoAttack the shipped robust and standard Fashion-MNIST classifiers')
    .option('--out <dir>', 'run folder', `runs/demo-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    .option('--seed <n>', 'seed', nonNegativeInt, 0)
    .option('--n <N>', 'test images attacked per model', positiveInt, 100)
    .option('--threads <n>', 'libtorch threads (default: libtorch decides; 1 is safest on a busy machine)', positiveInt)
    .option('--no-train', 'skip the one-epoch training step')
    .action((o: DemoOptions) => {
      const t0 = performance.now();
      if (o.threads !== undefined) setNumThreads(o.threads);
      let trained: { accuracy: Count; seconds: number } | null = null;
      if (o.train) {
        console.error('training the reference CNN for one epoch on Fashion-MNIST');
        const config: TrainConfig = { ...DEFAULTS, epochs: 1, seed: o.seed, threads: o.threads, valSize: 0, valPgdSize: 0 };
        const r = train(config, { out: join(o.out, 'reference-cnn') });
        trained = { accuracy: testAccuracy(r.model, config, 10_000, 0).clean, seconds: r.seconds };
      }
      const rows = SHIPPED.map((m) => attackShipped(m.name, m.what, o.n, o.seed));
      const seconds = (performance.now() - t0) / 1000;
      writeFileAtomic(join(o.out, 'demo.json'), JSON.stringify({ seed: o.seed, n: o.n, trained, rows, seconds }, null, 2) + '\n');

      console.log('');
      if (trained)
        console.log(
          `reference CNN after 1 epoch of standard training: test accuracy ${pct(trained.accuracy.correct, trained.accuracy.total)} (${trained.seconds.toFixed(0)} s)`,
        );
      console.log(`\nAutoAttack standard, Linf eps 0.1, first ${o.n} Fashion-MNIST test images:\n`);
      console.log('| model | training | clean | AutoAttack | time |');
      console.log('|---|---|---|---|---|');
      for (const r of rows)
        console.log(
          `| ${r.model} | ${r.what} | ${pct(r.clean.correct, r.clean.total)} | ${pct(r.autoattack.correct, r.autoattack.total)} | ${r.seconds.toFixed(0)} s |`,
        );
      console.log(`\nA standard classifier loses everything at eps 0.1; adversarial training keeps most of it.`);
      console.log(`results: ${join(o.out, 'demo.json')} (total ${seconds.toFixed(0)} s)`);
    });
}
