// `carso demo`: what carso does, in about ten minutes on a 2-core CPU.
//   1. load the shipped Fashion-MNIST PGD-AT classifier and the CARSO purifier
//      trained on it (--retrain: train both first, into <out>/models: hours);
//   2. evaluate both on the first --n test images (carso eval's stages, both
//      protocols): clean accuracy and AutoAttack standard on the classifier;
//      AutoAttack rand end to end on CARSO as the paper evaluates it (reference
//      aggregation, one draw) and honestly (stable aggregation, worst of 10
//      draws), the transfer attack and the eps 0.95 check; the verdict first;
//   3. a robust-accuracy-versus-eps sweep for both with a cheaper attack;
//   4. `carso report` on the run folder: report.json, report.md, report.html.
// Everything lands in --out (default runs/demo); rerunning the same command
// continues an interrupted demo, and nothing outside --out is written.
import { join } from 'node:path';
import type { Command } from 'commander';
import { asModel } from '../attacks/index.js';
import { loadDataset, makeBatch } from '../data/index.js';
import { range } from '../eval/accuracy.js';
import type { AttackSpec } from '../eval/autoattack.js';
import { writeReport } from '../eval/report.js';
import { runSweep } from '../eval/sweep.js';
import { dispose, getNumThreads, setNumThreads, torchVersion } from '../tensor/index.js';
import { Carso } from '../carso/carso.js';
import { SHIPPED_CLASSIFIER, SHIPPED_PURIFIER, evalTable, sha256 } from './eval.js';
import { evaluateCarso } from '../carso/evaluate.js';
import { writeFileAtomic } from '../util/fs.js';
import { Progress } from '../util/progress.js';
import { cascadeProgress } from './attack.js';
import { epsilon, nonNegativeInt, positiveInt, THREADS_HELP } from './options.js';
import { WEIGHTS_HELP, loadClassifier } from './classifier.js';
import { retrain } from './retrain.js';

interface DemoOptions {
  out: string;
  seed: number;
  n: number;
  sweepN: number;
  eps: number;
  threads?: number;
  retrain?: boolean;
  classifierWeights: string;
  purifier: string;
}

/** The sweep's radii (the evaluation's eps is among them for the default 0.1). */
export const SWEEP_EPS = [0.025, 0.05, 0.1, 0.15, 0.2];
/**
 * The sweep's attack on CARSO: AutoAttack rand's pair (APGD-CE, then APGD-DLR on the survivors) with
 * fewer iterations and EOT samples (said in the report). NOTE: never CE alone: CARSO's aggregation
 * saturates the CE gradient (README), and a CE-only sweep showed CARSO 13/16 robust at eps 0.2.
 */
const SWEEP_CARSO = { nIter: 20, eotIter: 4 };
const pair = (eps: number, o: Record<string, number>): AttackSpec[] =>
  (['apgd-ce', 'apgd-dlr'] as const).map((name) => ({ name, options: { eps, norm: 'Linf', nRestarts: 1, ...o } }));

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'evaluate the shipped Fashion-MNIST robust classifier and its CARSO defence (AutoAttack standard / rand, ' +
        'an eps sweep) and write an HTML report',
    )
    .option('--out <dir>', 'run folder (rerun to continue an interrupted demo)', 'runs/demo')
    .option('--seed <n>', 'seed', nonNegativeInt, 0)
    .option('--n <N>', 'test images of the main evaluation', positiveInt, 16)
    .option('--sweep-n <N>', 'test images of the eps sweep', positiveInt, 16)
    .option('--eps <eps>', 'Linf radius of the main evaluation', epsilon, 0.1)
    .option('--threads <n>', THREADS_HELP, positiveInt)
    .option(
      '--classifier-weights <file>',
      `classifier to use instead of the shipped one: ${WEIGHTS_HELP} (fmnist-cnn for a state dict)`,
      SHIPPED_CLASSIFIER,
    )
    .option('--purifier <file>', 'purifier to use instead of the shipped one', SHIPPED_PURIFIER)
    .option('--retrain', 'train the classifier and the purifier first instead of using the shipped ones (hours on a CPU)')
    .action(async (o: DemoOptions) => {
      const t0 = performance.now();
      if (o.threads !== undefined) setNumThreads(o.threads);
      const weights = o.retrain
        ? retrain(join(o.out, 'models'), o.seed, getNumThreads())
        : { classifier: o.classifierWeights, purifier: o.purifier };
      const { module: classifier } = loadClassifier(weights.classifier, { arch: 'fmnist-cnn' });
      const carso = Carso.load(classifier, weights.purifier);
      const ds = loadDataset('fashion-mnist', { split: 'test' });
      const b = makeBatch(ds, range(0, Math.max(o.n, o.sweepN)));
      try {
        const x = b.x.narrow(0, 0, o.n);
        const y = b.y.narrow(0, 0, o.n);
        console.error(`== evaluation: first ${o.n} Fashion-MNIST test images, Linf eps ${o.eps}`);
        const r = evaluateCarso(classifier, carso, x, y, {
          eps: o.eps,
          seed: o.seed,
          protocols: ['paper', 'honest'],
          finalEvals: 10,
          batchSize: o.n,
          out: o.out,
          dataset: 'fashion-mnist',
          first: 0,
          classNames: ds.classes,
          eotPoints: 0,
          gridPoints: 6,
          skip: ['carso-pgd-eot', 'carso-square'],
          settings: { classifierWeights: weights.classifier, purifier: weights.purifier, demo: true },
          weights: { classifier: sha256(weights.classifier), purifier: sha256(weights.purifier) },
          versions: { node: process.version, libtorch: torchVersion() },
          onStage: (name, resumed) => console.error(`-- ${name}${resumed ? ' (done earlier: reloaded)' : ''}`),
          onEvent: cascadeProgress(),
          onWarning: (w) => console.error(`warning: ${w.message}`),
        });
        console.error(`== robust accuracy versus eps (${SWEEP_EPS.join(', ')}), first ${o.sweepN} test images`);
        const bar = new Progress('sweep', 2 * SWEEP_EPS.length, { unit: 'points' });
        const sweep = runSweep(
          [
            {
              name: 'classifier',
              model: asModel(classifier),
              attack: (eps) => pair(eps, { nIter: 100 }),
            },
            {
              name: 'carso',
              model: carso,
              attack: (eps) => pair(eps, SWEEP_CARSO),
            },
          ],
          b.x.narrow(0, 0, o.sweepN),
          b.y.narrow(0, 0, o.sweepN),
          {
            eps: SWEEP_EPS,
            attack: `APGD-CE then APGD-DLR (classifier: 100 iterations; CARSO: ${SWEEP_CARSO.nIter} iterations, EOT ${SWEEP_CARSO.eotIter}, worst of 10 draws): cheaper than the main evaluation`,
            seed: o.seed,
            batchSize: o.sweepN,
            cacheDir: join(o.out, 'stages'),
            onPoint: (model, eps, k, n) => bar.tick(1, `${model} eps ${eps}: ${k}/${n}`),
          },
        );
        bar.finish();
        writeFileAtomic(join(o.out, 'sweep.json'), JSON.stringify(sweep, null, 2) + '\n');
        const paths = await writeReport(o.out);
        console.log(`\n${evalTable(r)}\n`);
        console.log('robust accuracy versus eps (' + sweep.attack + '):');
        for (const c of sweep.curves)
          console.log(
            `  ${c.model.padEnd(11)}${c.accuracy.map((a, i) => `eps ${SWEEP_EPS[i]}: ${a.correct}/${a.total}`).join('  ')}`,
          );
        console.log(`\nreport: ${paths.html}\n        ${paths.md}\n        ${paths.json}`);
        console.log(`demo finished in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      } finally {
        dispose([b.x, b.y]);
        carso.dispose();
        classifier.dispose();
      }
    });
}
