// `carso eval`: the CARSO evaluation (evaluate.ts) from the command line, with
// a progress bar per attack, a table at the end and <out>/eval.json; rerunning
// the same command continues an interrupted run. Wire it into src/cli/main.ts
// with `registerEval(program)`.
//
//     carso eval --n 200 --out runs/carso-eval          # the shipped Fashion-MNIST models
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { DATASET_NAMES, loadDataset, makeBatch, type DatasetName } from '../data/index.js';
import { range } from '../eval/accuracy.js';
import { mergeEvals } from '../eval/merge.js';
import { PROTOCOLS, type EvalResult, type Protocol } from '../eval/result.js';
import { percent as pct } from '../eval/stats.js';
import { verdictText } from '../eval/verdict.js';
import { writeFileAtomic } from '../util/fs.js';
import { SHIPPED_MODELS_DIR, modelNames } from '../models/index.js';
import { dispose, setNumThreads, torchVersion } from '../tensor/index.js';
import { cascadeProgress } from './attack.js';
import { choice, choiceList, epsilon, nonNegativeInt, positiveInt, THREADS_HELP } from './options.js';
import { WEIGHTS_HELP, loadClassifier } from './classifier.js';
import { AGGREGATIONS, type Aggregation } from '../carso/aggregation.js';
import { Carso } from '../carso/carso.js';
import { STAGE_NAMES, STOP_NON_FINITE, evaluateCarso } from '../carso/evaluate.js';
import { shardCascade } from '../dist/cascade.js';
import { addDistOptions, joinGroup, type DistFlags } from './dist.js';

/** The shipped Fashion-MNIST pair: the PGD-AT classifier and the purifier trained on it. */
export const SHIPPED_CLASSIFIER = join(SHIPPED_MODELS_DIR, 'fmnist-cnn-pgd-at', 'model.safetensors');
export const SHIPPED_PURIFIER = join(SHIPPED_MODELS_DIR, 'fmnist-carso', 'purifier.safetensors');
/** The old --protocol names: what they are now. */
const OLD_PROTOCOLS: Readonly<Record<string, Protocol>> = { strict: 'honest', reference: 'paper' };

interface Flags extends DistFlags {
  dataset: DatasetName;
  dataDir?: string;
  classifier: string;
  classifierWeights: string;
  purifier: string;
  first: number;
  n: number;
  eps: number;
  protocols?: Protocol[];
  protocol?: 'reference' | 'strict';
  stopNonFinite: number;
  finalEvals: number;
  samples: number;
  aggregation: Aggregation;
  batchSize: number;
  rowsPerCall?: number;
  pgdEotN?: number;
  eotN: number;
  skip: string[];
  seed: number;
  threads?: number;
  out: string;
}

export const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The evaluation as plain text: the verdict first, then one line per entry, the comparisons and the fired diagnostics. */
export function evalTable(r: EvalResult): string {
  const lines = [
    `verdict: ${r.norm} eps ${r.eps}, ${r.n} ${r.dataset} test points (${r.first}-${r.first + r.n - 1})`,
    verdictText(r.verdict),
    '',
    `${'model'.padEnd(17)}${'attack'.padEnd(30)}${'eps'.padEnd(6)}accuracy (k/n, 95% CI)`,
  ];
  for (const e of r.entries) {
    const a = e.accuracy;
    const ci = `${(100 * a.ci95.lo).toFixed(1)}-${(100 * a.ci95.hi).toFixed(1)}`;
    const model = e.protocol === undefined ? e.model : `${e.model} (${e.protocol})`;
    let s = `${model.padEnd(17)}${e.attack.padEnd(30)}${String(e.eps).padEnd(6)}${a.correct}/${a.total} ${pct(a.correct, a.total)} [${ci}]`;
    if (e.stochastic && e.stochastic.draws > 1)
      s += `  single ${pct(e.stochastic.single.correct, e.stochastic.single.total)}, mean ${(100 * e.stochastic.meanOverR.accuracy).toFixed(1)}%, worst-of-${e.stochastic.draws} ${pct(e.stochastic.worstOfR.correct, e.stochastic.worstOfR.total)}`;
    lines.push(s);
  }
  for (const c of r.comparisons)
    lines.push(
      `${c.a} - ${c.b}: ${(100 * c.difference).toFixed(1)} points [${(100 * c.ci95.lo).toFixed(1)}, ${(100 * c.ci95.hi).toFixed(1)}]`,
    );
  for (const d of r.diagnostics) lines.push(`${d.fired ? 'WARNING' : 'ok'} ${d.check}: ${d.message}`);
  return lines.join('\n');
}

/** --protocols, or the old --protocol (mapped, with a note), or both protocols. */
export function protocolsOf(f: Pick<Flags, 'protocols' | 'protocol'>): Protocol[] {
  if (f.protocol !== undefined && f.protocols !== undefined)
    throw new Error('--protocol is the old name of --protocols: give one of them');
  if (f.protocol === undefined) return f.protocols ?? [...PROTOCOLS];
  const p = OLD_PROTOCOLS[f.protocol] as Protocol;
  console.error(
    `note: --protocol ${f.protocol} is now --protocols ${p}` +
      (p === 'paper' ? ' (which also uses the reference aggregation peel-reference, as the paper does)' : ''),
  );
  return [p];
}

/** `carso merge`: one evaluation from shards run separately (`carso eval --first ... --n ...`). */
export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge carso eval folders of consecutive test points into one eval.json (then `carso report` it)')
    .argument('<dirs...>', 'eval output folders, each with an eval.json')
    .requiredOption('--out <dir>', 'folder for the merged eval.json (and the first shard grid.json)')
    .action((dirs: string[], f: { out: string }) => {
      const shards = dirs.map((d) => {
        const file = join(d, 'eval.json');
        if (!existsSync(file)) throw new Error(`${file} does not exist`);
        return JSON.parse(readFileSync(file, 'utf8')) as EvalResult;
      });
      const merged = mergeEvals(shards);
      mkdirSync(f.out, { recursive: true });
      writeFileAtomic(join(f.out, 'eval.json'), JSON.stringify(merged, null, 2) + '\n');
      const first = dirs[shards.indexOf(shards.reduce((a, b) => (b.first < a.first ? b : a)))] as string;
      if (existsSync(join(first, 'grid.json'))) copyFileSync(join(first, 'grid.json'), join(f.out, 'grid.json'));
      console.log(evalTable(merged));
      console.log(`wrote ${join(f.out, 'eval.json')}`);
    });
}

export function registerEval(program: Command): void {
  addDistOptions(program.command('eval'))
    .description(
      'evaluate a classifier and its CARSO: a verdict (classifier under AutoAttack standard; CARSO under AutoAttack rand ' +
        "as the paper evaluates it and evaluated honestly, with masking evidence), then the honest protocol's PGD-EOT, " +
        'eps 0.95 check, transfer and Square attacks, and gradient-masking diagnostics',
    )
    .option('--dataset <name>', `dataset (${DATASET_NAMES.join(', ')})`, choice(DATASET_NAMES), 'fashion-mnist')
    .option('--data-dir <dir>', 'dataset folder (default: the standard location)')
    .option(
      '--classifier <name>',
      `architecture of a state dict classifier (${modelNames.join(', ')})`,
      choice(modelNames),
      'fmnist-cnn',
    )
    .option(
      '--classifier-weights <file>',
      `the classifier: ${WEIGHTS_HELP}; a TorchScript one must follow CARSO's tap convention (README)`,
      SHIPPED_CLASSIFIER,
    )
    .option('--purifier <file>', 'purifier written by train-purifier', SHIPPED_PURIFIER)
    .option('--first <i>', 'first test index', nonNegativeInt, 0)
    .option('--n <n>', 'test points', positiveInt, 200)
    .option('--eps <eps>', 'Linf radius (pixels in [0, 1])', epsilon, 0.1)
    .option(
      '--protocols <list>',
      "comma-separated protocols (default: paper,honest; the paper one runs first). 'paper': as the CARSO paper evaluates it: " +
        "the reference float32 aggregation (peel-reference), AutoAttack rand with the original code's NaN semantics and " +
        "warnings, one draw per point, no diagnostics. 'honest': the --aggregation (default: the stable peel), worst of " +
        '--final-evals draws per point, diagnostics. The classifier stages are shared',
      choiceList(PROTOCOLS),
    )
    .option(
      '--protocol <p>',
      "old name: 'strict' is --protocols honest, 'reference' is --protocols paper",
      choice(['reference', 'strict'] as const),
    )
    .option(
      '--final-evals <R>',
      'draws per point in the final evaluation (honest protocol; the paper draws once)',
      positiveInt,
      10,
    )
    .option('--samples <N>', 'CARSO latent samples per input', nonNegativeInt, 8)
    .option(
      '--aggregation <a>',
      `CARSO aggregation of the honest protocol (${AGGREGATIONS.join(', ')}; the paper protocol always uses peel-reference)`,
      choice(AGGREGATIONS),
      'peel',
    )
    .option(
      '--stop-non-finite <k>',
      'stop attacking a point of CARSO once its first k gradient evaluations had NaN/Inf in every EOT sample ' +
        '(the original AutoAttack never moves such a point: sign(NaN) = 0); 0 never stops',
      nonNegativeInt,
      STOP_NON_FINITE,
    )
    .option('--batch-size <b>', 'points per attack call', positiveInt, 50)
    .option('--rows-per-call <r>', 'batch EOT draws up to r reconstructions per call (GPU; slower on CPU)', positiveInt)
    .option('--pgd-eot-n <m>', 'run PGD-EOT (4000 passes per point) on the first m points only', positiveInt)
    .option('--eot-n <k>', 'points of the EOT-convergence subset (honest; 0 skips)', nonNegativeInt, 16)
    .option('--skip <stages>', `comma-separated stages to skip (${STAGE_NAMES.join(', ')})`, choiceList(STAGE_NAMES), [])
    .option('--seed <n>', 'seed', nonNegativeInt, 0)
    .option('--threads <n>', THREADS_HELP, positiveInt)
    .requiredOption('--out <dir>', 'output folder (eval.json, grid.json, resumable state)')
    .action((f: Flags) => {
      const protocols = protocolsOf(f);
      for (const p of [f.classifierWeights, f.purifier]) if (!existsSync(p)) throw new Error(`${p} does not exist`);
      if (f.threads !== undefined) setNumThreads(f.threads);
      const ds = loadDataset(f.dataset, { root: f.dataDir, split: 'test' });
      if (f.first + f.n > ds.length) throw new Error(`--first ${f.first} --n ${f.n}: the test set has ${ds.length} points`);
      const { module: classifier } = loadClassifier(f.classifierWeights, { arch: f.classifier, dataset: f.dataset });
      const carso = Carso.load(classifier, f.purifier, {
        samples: f.samples,
        aggregation: f.aggregation,
        rowsPerCall: f.rowsPerCall,
      });
      const b = makeBatch(ds, range(f.first, f.n));
      const dist = joinGroup(f);
      const speaks = dist === null || dist.rank === 0; // every rank writes the same files, rank 0 reports
      try {
        const r = evaluateCarso(classifier, carso, b.x, b.y, {
          eps: f.eps,
          seed: f.seed,
          protocols,
          finalEvals: f.finalEvals,
          stopNonFinite: f.stopNonFinite,
          batchSize: f.batchSize,
          out: f.out,
          dataset: f.dataset,
          first: f.first,
          classNames: ds.classes,
          pgdEotPoints: f.pgdEotN,
          eotPoints: f.eotN,
          skip: f.skip,
          settings: { classifierWeights: f.classifierWeights, purifier: f.purifier },
          weights: { classifier: sha256(f.classifierWeights), purifier: sha256(f.purifier) },
          versions: { node: process.version, libtorch: torchVersion() },
          onStage: (name, resumed) => speaks && console.error(`== ${name}${resumed ? ' (done earlier: reloaded)' : ''}`),
          onEvent: speaks ? cascadeProgress() : undefined,
          onWarning: (w) => speaks && console.error(`warning: ${w.message}`),
          shards: dist === null ? undefined : shardCascade(dist),
        });
        dist?.destroy();
        if (!speaks) return;
        console.log(evalTable(r));
        console.log(`wrote ${join(f.out, 'eval.json')}`);
      } finally {
        dispose([b.x, b.y]);
        carso.dispose();
        classifier.dispose();
      }
    });
}
