// `carso attack`: evaluate a trained checkpoint under one attack or AutoAttack
// (src/eval/autoattack.ts), with per-attack progress, a JSON result, optional
// adversarial images, and a state file that makes an interrupted run resume.
//
//   carso attack --model runs/x/model.safetensors --eps 0.1 --n 1000 --out runs/x/aa
//   carso attack --model m.safetensors --arch fmnist-cnn --attack apgd-ce --norm L2 --eps 1.5 --out out/
//   carso attack --model scripted.pt --eps 8/255 --dataset cifar10 --out out/     (TorchScript: no --arch)
//
// Everything is validated (flags, checkpoint, data, labels) before any attack starts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { asModel, attackNames, createAttack, type AttackOptions, type Model, type Norm } from '../attacks/index.js';
import { checkInputs, checkLabels } from '../attacks/common.js';
import { DATASET_NAMES, loadDataset, makeBatch } from '../data/index.js';
import { range } from '../eval/accuracy.js';
import {
  autoAttackPlan,
  runAttacks,
  runAutoAttack,
  VERSIONS,
  type AutoAttackResult,
  type AutoAttackVersion,
  type CascadeEvent,
} from '../eval/autoattack.js';
import { readSafetensors, readWeights, writeSafetensors } from '../io/index.js';
import { createModel, modelNames } from '../models/index.js';
import { ScriptModule, type Module } from '../nn/index.js';
import {
  Tensor,
  dispose,
  getNumThreads,
  resolveDevice,
  setNumThreads,
  tensor,
  tidy,
  torchVersion,
  type Device,
} from '../tensor/index.js';
import { namingFile, writeFileAtomic } from '../util/fs.js';
import { Progress } from '../util/progress.js';
import { choice, positiveInt, nonNegativeInt, THREADS_HELP } from './options.js';
import { addDistOptions, joinGroup, type DistFlags } from './dist.js';
import { shardCascade } from '../dist/cascade.js';
import type { ProcessGroup } from '../dist/group.js';
import { TORCHSCRIPT, WEIGHTS_HELP, isTorchScript } from './classifier.js';

const NORMS: readonly Norm[] = ['Linf', 'L2', 'L1'];
const AUTOATTACK = 'autoattack';

interface AttackFlags extends DistFlags {
  model: string;
  arch?: string;
  dataset?: string;
  dataDir?: string;
  data?: string;
  split: 'train' | 'test';
  attack: string;
  version: AutoAttackVersion;
  attacks?: string[];
  norm: Norm;
  eps: number;
  n: number;
  seed: number;
  batchSize: number;
  threads?: number;
  device: string;
  out: string;
  saveAdv?: boolean;
  steps?: number;
  alpha?: number;
  iters?: number;
  restarts?: number;
  queries?: number;
  eot?: number;
}

/** Options of a single --attack (AutoAttack keeps the reference's settings). */
function singleAttackOptions(f: AttackFlags): AttackOptions {
  const o: AttackOptions = { eps: f.eps, norm: f.norm };
  if (f.steps !== undefined) o.steps = f.steps;
  if (f.alpha !== undefined) o.alpha = f.alpha;
  if (f.iters !== undefined) o.nIter = f.iters;
  if (f.restarts !== undefined) o.nRestarts = f.restarts;
  if (f.queries !== undefined) o.nQueries = f.queries;
  if (f.eot !== undefined) o.eotIter = f.eot;
  return o;
}

/** A radius: a finite number > 0, or a fraction like 8/255 (the norm's upper bound is checked with --norm). */
function radius(v: string): number {
  const m = /^\s*([0-9.]+)\s*\/\s*([0-9.]+)\s*$/.exec(v);
  const n = m ? Number(m[1]) / Number(m[2]) : v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`eps '${v}' is not a number (e.g. 0.1 or 8/255)`);
  if (n <= 0) throw new InvalidArgumentError(`eps '${v}' must be > 0`);
  return n;
}

/** A comma-separated list of registered attack names. */
function attackList(v: string): string[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = names.filter((s) => !attackNames().includes(s));
  if (names.length === 0 || bad.length > 0)
    throw new InvalidArgumentError(`unknown attack '${bad.join(', ')}' (valid: ${attackNames().join(', ')})`);
  return names;
}

export function registerAttack(program: Command): void {
  addDistOptions(program.command('attack'))
    .description('evaluate a checkpoint under an attack or AutoAttack (robust accuracy per attack, resumable)')
    .requiredOption('--model <file>', `the classifier: ${WEIGHTS_HELP} (e.g. the model.safetensors \`carso train\` writes)`)
    .option(
      '--arch <name>',
      `architecture of a state dict (${modelNames.join(', ')}; default: from the checkpoint's metadata or card.json)`,
    )
    .option('--dataset <name>', `data set (${DATASET_NAMES.join(', ')}; default: the checkpoint's)`)
    .option('--data-dir <dir>', 'dataset folder (default: the standard location)')
    .option('--data <file>', 'images instead of --dataset: a .safetensors with x [N, C, H, W] float in [0, 1] and y [N] int64')
    .option('--split <s>', 'train or test', choice(['train', 'test'] as const), 'test')
    .option(
      '--attack <name>',
      `${AUTOATTACK} or one attack (${attackNames().join(', ')})`,
      choice([AUTOATTACK, ...attackNames()]),
      AUTOATTACK,
    )
    .option('--version <v>', `AutoAttack version (${VERSIONS.join(', ')})`, choice(VERSIONS), 'standard')
    .option('--attacks <list>', "attacks of --version custom, comma-separated (e.g. 'apgd-ce,square')", attackList)
    .option('--norm <p>', `threat model (${NORMS.join(', ')})`, choice(NORMS), 'Linf')
    .requiredOption('--eps <eps>', 'radius in the norm (Linf: in (0, 1], e.g. 0.1 or 8/255)', radius)
    .option('--n <N>', 'first N points of the split', positiveInt, 1000)
    .option('--seed <n>', 'seed of every attack', nonNegativeInt, 0)
    .option('--batch-size <n>', 'points per attack call', positiveInt, 250)
    .option('--threads <n>', THREADS_HELP, positiveInt)
    .option('--device <d>', 'cpu or cuda[:N]', 'cpu')
    .requiredOption(
      '--out <dir>',
      'output folder: result.json, state.safetensors (resumed when present), adversarial.safetensors',
    )
    .option('--save-adv', 'also write the adversarial images to <out>/adversarial.safetensors')
    .option('--steps <n>', 'single attack: PGD steps (default 10)', positiveInt)
    .option('--alpha <a>', 'single attack: PGD / FGSM-RS step size (default: PGD eps/4 Linf, eps/5 L2)', radius)
    .option('--iters <n>', 'single attack: APGD / FAB iterations (default 100)', positiveInt)
    .option('--restarts <n>', 'single attack: restarts (default 1)', positiveInt)
    .option('--queries <n>', 'single attack: Square query budget (default 5000)', positiveInt)
    .option('--eot <n>', 'single attack: EOT gradient samples per step (default 1)', positiveInt)
    .action((flags: AttackFlags) => {
      checkFlags(flags);
      if (flags.threads !== undefined) setNumThreads(flags.threads);
      const device = resolveDevice(flags.device);
      const { module, arch, dataset } = loadCheckpoint(flags, device);
      const model = asModel(module);
      const data = loadPoints(flags, dataset, device, model);
      const dist = joinGroup(flags);
      const t0 = performance.now();
      const r = run(model, data.x, data.y, flags, dist);
      dist?.destroy();
      if (dist !== null && dist.rank !== 0) return dispose([r.xAdv, data.x, data.y]); // rank 0 writes and reports
      const result = report(r, flags, { arch, dataset, source: data.source, seconds: (performance.now() - t0) / 1000 });
      writeFileAtomic(join(flags.out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
      if (flags.saveAdv === true) saveAdversarial(join(flags.out, 'adversarial.safetensors'), r, data.y, result.settings);
      console.log(
        JSON.stringify(
          {
            out: flags.out,
            clean: r.clean,
            robust: r.robust,
            perAttack: result.perAttack.map((a) => `${a.name} ${a.robust}/${a.total}`),
          },
          null,
          2,
        ),
      );
      dispose([r.xAdv, data.x, data.y]);
    });
}

/** Cross-flag rules commander cannot express. */
function checkFlags(f: AttackFlags): void {
  if (f.norm === 'Linf' && f.eps > 1)
    throw new Error(`--eps ${f.eps} is above 1: a Linf radius for images in [0, 1] must be in (0, 1]`);
  const autoattack = f.attack === AUTOATTACK;
  if (autoattack && f.version === 'custom' && f.attacks === undefined)
    throw new Error(`--version custom needs --attacks (valid: ${attackNames().join(', ')})`);
  if (f.attacks !== undefined && !(autoattack && f.version === 'custom'))
    throw new Error('--attacks goes with --attack autoattack --version custom');
  // the attacks are built once here so that an unsupported norm or option fails before any loading
  const specs = autoattack
    ? autoAttackPlan({ norm: f.norm, eps: f.eps, version: f.version, attacks: f.attacks }).specs
    : [{ name: f.attack, options: singleAttackOptions(f) }];
  specs.forEach((s) => createAttack(s.name, s.options));
  if (!existsSync(f.model)) throw new Error(`checkpoint '${f.model}' not found`);
  if (f.data !== undefined && !existsSync(f.data)) throw new Error(`data file '${f.data}' not found`);
}

/**
 * The checkpoint as a module, with its architecture and data set: flags first, then its
 * metadata (`carso train`), then card.json beside it. A TorchScript file is its own architecture.
 */
function loadCheckpoint(f: AttackFlags, device: Device): { module: Module; arch: string; dataset: string } {
  return namingFile('--model', f.model, () => loadModel(f, device));
}

function loadModel(f: AttackFlags, device: Device): { module: Module; arch: string; dataset: string } {
  const card = join(dirname(f.model), 'card.json');
  const fromCard = existsSync(card)
    ? (parseJson(readFileSync(card, 'utf8')) as { architecture?: string; dataset?: string } | null)
    : null;
  if (isTorchScript(f.model)) {
    const module = ScriptModule.load(f.model, { device }).eval();
    return { module, arch: TORCHSCRIPT, dataset: f.dataset ?? fromCard?.dataset ?? 'fashion-mnist' };
  }
  const { tensors, metadata } = readWeights(f.model);
  try {
    const fromMeta = parseJson(metadata['config']) as { model?: string; dataset?: string } | null;
    const arch = f.arch ?? fromMeta?.model ?? fromCard?.architecture;
    if (arch === undefined)
      throw new Error(
        `cannot tell the architecture of '${f.model}' (no metadata or card.json): pass --arch (${modelNames.join(', ')})`,
      );
    const dataset = f.dataset ?? fromMeta?.dataset ?? fromCard?.dataset ?? 'fashion-mnist';
    const module = createModel(arch, { dataset });
    try {
      module.loadStateDict(tensors);
    } catch (err) {
      throw new Error(`'${f.model}' does not fit architecture '${arch}': ${(err as Error).message}`, { cause: err });
    }
    if (device !== 'cpu') module.toDevice(device);
    return { module: module.eval(), arch, dataset };
  } finally {
    dispose([...tensors.values()]);
  }
}

function parseJson(s: string | undefined): unknown {
  if (s === undefined) return null;
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return null;
  }
}

/** The first n points: x [n, C, H, W] in [0, 1] and y [n] int64, checked against the model's classes. */
function loadPoints(f: AttackFlags, dataset: string, device: Device, model: Model): { x: Tensor; y: Tensor; source: string } {
  let x: Tensor;
  let y: Tensor;
  let source: string;
  if (f.data !== undefined) {
    const file = f.data;
    [x, y] = namingFile('--data', file, () => {
      const { tensors } = readSafetensors(file);
      try {
        const [tx, ty] = [tensors.get('x'), tensors.get('y')];
        if (tx === undefined || ty === undefined || tx.ndim !== 4 || ty.ndim !== 1)
          throw new Error(`'${file}' must hold tensors 'x' [N, C, H, W] and 'y' [N] (has: ${[...tensors.keys()].join(', ')})`);
        const n = Math.min(f.n, tx.size(0), ty.size(0));
        return tidy(() => [tx.narrow(0, 0, n).to('float32').toDevice(device), ty.narrow(0, 0, n).to('int64').toDevice(device)]);
      } finally {
        dispose([...tensors.values()]);
      }
    });
    source = file;
  } else {
    const ds = loadDataset(dataset, { root: f.dataDir, split: f.split, limit: f.n });
    ({ x, y } = makeBatch(ds, range(0, ds.length), undefined, device));
    source = `${dataset}/${f.split}`;
  }
  try {
    checkInputs('data', x, y);
    const K = tidy(() => model.forward(x.narrow(0, 0, 1)).size(1));
    checkLabels('data', y, K);
  } catch (err) {
    dispose([x, y]);
    throw new Error(`${source}: ${(err as Error).message}`, { cause: err });
  }
  return { x, y, source };
}

/** A cascade event listener drawing one progress bar per attack on stderr. */
export function cascadeProgress(statePath?: string): (e: CascadeEvent) => void {
  let bar: Progress | null = null;
  return (e) => {
    if (e.kind === 'clean')
      console.error(`clean accuracy ${pct(e.correct, e.total)}${e.resumed && statePath ? ` (resuming from ${statePath})` : ''}`);
    if (e.kind === 'attack-start') {
      bar = new Progress(`[${e.index + 1}/${e.attacks}] ${e.name}`, e.batches, { unit: 'batches' });
      if (e.batchesDone > 0) bar.tick(e.batchesDone, 'resumed');
    }
    if (e.kind === 'batch') bar?.tick(1, `robust ${e.robust}/${e.total}`);
    if (e.kind === 'attack-end') {
      const r = e.record;
      bar?.finish(`robust ${pct(r.robust, r.total)} (${r.seconds.toFixed(1)} s, ${r.queries} queries)`);
      bar = null;
    }
  };
}

/** The cascade with a progress bar per attack on stderr (rank 0's, when the batches are spread over ranks). */
function run(model: Model, x: Tensor, y: Tensor, f: AttackFlags, dist: ProcessGroup | null): AutoAttackResult {
  const statePath = join(f.out, 'state.safetensors');
  const speaks = dist === null || dist.rank === 0;
  const o = {
    norm: f.norm,
    eps: f.eps,
    seed: f.seed,
    batchSize: f.batchSize,
    statePath,
    onEvent: speaks ? cascadeProgress(statePath) : () => {},
    onWarning: (w: { check: string; message: string }) => speaks && console.error(`warning (${w.check}): ${w.message}`),
    shards: dist === null ? undefined : shardCascade(dist),
  };
  if (f.attack !== AUTOATTACK) return runAttacks(model, x, y, [{ name: f.attack, options: singleAttackOptions(f) }], o);
  return runAutoAttack(model, x, y, { ...o, version: f.version, attacks: f.attacks });
}

export const pct = (k: number, n: number): string => `${((100 * k) / Math.max(1, n)).toFixed(2)}% (${k}/${n})`;

/** The JSON written to result.json. */
function report(r: AutoAttackResult, f: AttackFlags, info: { arch: string; dataset: string; source: string; seconds: number }) {
  const settings = {
    model: f.model,
    arch: info.arch,
    data: info.source,
    n: r.robustFlags.length,
    attack: f.attack,
    version: r.version,
    attacks: r.attacks,
    norm: r.norm,
    eps: r.eps,
    seed: r.seed,
    batchSize: r.batchSize,
  };
  const pkg = parseJson(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string } | null;
  return {
    settings,
    clean: r.clean,
    robust: r.robust,
    perAttack: r.perAttack,
    nanGrad: r.nanGrad,
    finalCheck: r.finalCheck,
    warnings: r.warnings,
    resumed: r.resumed,
    seconds: info.seconds,
    versions: { carso: pkg?.version ?? 'unknown', node: process.version, libtorch: torchVersion(), threads: getNumThreads() },
  };
}

/** xAdv [n, C, H, W] float32, labels, adversarial predictions and robust flags (uint8), settings as metadata. */
function saveAdversarial(path: string, r: AutoAttackResult, y: Tensor, settings: object): void {
  const extra = {
    yAdv: tensor(r.yAdv, [r.yAdv.length], 'int64'),
    robust: tensor(Uint8Array.from(r.robustFlags, Number), [r.robustFlags.length], 'uint8'),
  };
  try {
    writeSafetensors(path, { xAdv: r.xAdv, y, ...extra }, { settings: JSON.stringify(settings) });
  } finally {
    dispose(extra);
  }
}
