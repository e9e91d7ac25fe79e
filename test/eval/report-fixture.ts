// A small run folder for the report tests: an evaluation of a classifier and
// its CARSO (stochastic, both protocols), a sweep and an image grid, with
// made-up but consistent numbers (every count's interval is its Wilson one).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalResult, ImageGrid, Sweep } from '../../src/eval/result.js';
import { countWithInterval as c, type CountWithInterval } from '../../src/eval/stats.js';

const FMNIST = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export const evalResult = (): EvalResult => ({
  format: 'carso-eval/2',
  dataset: 'fashion-mnist',
  first: 0,
  n: 200,
  norm: 'Linf',
  eps: 0.1,
  seed: 3,
  protocols: ['paper', 'honest'],
  finalEvals: 10,
  verdict: [
    {
      id: 'classifier',
      label: 'classifier alone, AutoAttack standard',
      entry: 'classifier autoattack-standard',
      accuracy: c(94, 200),
      vsClassifier: null,
      evidence: {
        n: 200,
        outputNonFinite: 0,
        gradientCe: 0,
        gradientDlr: 0,
        attacked: 181,
        attackNonFinite: 0,
        stopped: 0,
        meanMoved: 0.0912,
      },
    },
    {
      id: 'carso-paper',
      label: 'CARSO as the paper evaluates it',
      entry: 'carso autoattack-rand (paper)',
      accuracy: c(172, 200),
      vsClassifier: { difference: 0.39, ci95: { lo: 0.3101, hi: 0.4602 }, aOnly: 80, bOnly: 2, total: 200 },
      evidence: {
        n: 200,
        outputNonFinite: 196,
        gradientCe: 197,
        gradientDlr: 196,
        attacked: 176,
        attackNonFinite: 176,
        stopped: 172,
        meanMoved: 0.0021,
      },
    },
    {
      id: 'carso-honest',
      label: 'CARSO evaluated honestly',
      entry: 'carso autoattack-rand (honest)',
      accuracy: c(131, 200),
      vsClassifier: { difference: 0.185, ci95: { lo: 0.1032, hi: 0.2611 }, aOnly: 52, bOnly: 15, total: 200 },
      evidence: {
        n: 200,
        outputNonFinite: 0,
        gradientCe: 166,
        gradientDlr: 0,
        attacked: 178,
        attackNonFinite: 0,
        stopped: 0,
        meanMoved: 0.1523,
      },
    },
  ],
  entries: [
    { model: 'classifier', attack: 'clean', eps: 0, accuracy: c(181, 200), seconds: 0.4 },
    {
      model: 'classifier',
      attack: 'autoattack-standard',
      eps: 0.1,
      accuracy: c(94, 200),
      perAttack: [
        { name: 'apgd-ce', robust: 120, total: 200, seconds: 41.2, queries: 20000 },
        { name: 'apgd-t', robust: 95, total: 200, seconds: 310.9, queries: 180000 },
        { name: 'fab-t', robust: 95, total: 200, seconds: 120.3, queries: 54000 },
        { name: 'square', robust: 94, total: 200, seconds: 402.5, queries: 475000 },
      ],
      seconds: 874.9,
    },
    {
      model: 'carso',
      protocol: 'paper',
      attack: 'clean',
      eps: 0,
      accuracy: c(176, 200),
      stochastic: { draws: 1, single: c(176, 200), meanOverR: { accuracy: 0.88 }, worstOfR: c(176, 200) },
      seconds: 0.5,
    },
    {
      model: 'carso',
      protocol: 'paper',
      attack: 'autoattack-rand',
      eps: 0.1,
      accuracy: c(172, 200),
      stochastic: { draws: 1, single: c(172, 200), meanOverR: { accuracy: 0.86 }, worstOfR: c(172, 200) },
      perAttack: [
        { name: 'apgd-ce', robust: 173, total: 200, seconds: 62.1, queries: 21000 },
        { name: 'apgd-dlr', robust: 172, total: 200, seconds: 48.9, queries: 20000 },
      ],
      seconds: 111.0,
    },
    {
      model: 'carso',
      protocol: 'honest',
      attack: 'clean',
      eps: 0,
      accuracy: c(170, 200),
      stochastic: { draws: 10, single: c(178, 200), meanOverR: { accuracy: 0.8855 }, worstOfR: c(170, 200) },
      seconds: 3.1,
    },
    {
      model: 'carso',
      protocol: 'honest',
      attack: 'autoattack-rand',
      eps: 0.1,
      accuracy: c(131, 200),
      stochastic: { draws: 10, single: c(150, 200), meanOverR: { accuracy: 0.7215 }, worstOfR: c(131, 200) },
      perAttack: [
        { name: 'apgd-ce', robust: 139, total: 200, seconds: 1620.2, queries: 400000 },
        { name: 'apgd-dlr', robust: 131, total: 200, seconds: 1588.7, queries: 400000 },
      ],
      settings: { eotIter: 20 },
      seconds: 3260.4,
    },
  ],
  comparisons: [
    { a: 'carso', b: 'classifier', difference: 0.185, ci95: { lo: 0.1032, hi: 0.2611 }, aOnly: 52, bOnly: 15, total: 200 },
  ],
  diagnostics: [
    {
      check: 'transfer-stronger',
      fired: true,
      message: 'a transfer attack from the classifier broke 3 points the white-box attack missed',
    },
    { check: 'eps-monotone', fired: false, message: 'robust accuracy falls with eps' },
    { check: 'unbounded', fired: false, message: 'accuracy reaches 0 at eps 0.5' },
  ],
  warnings: [{ check: 'randomized', message: 'the model is randomized: use version rand' }],
  eotConvergence: { n: 50, eot: [1, 5, 10, 20], accuracy: [c(40, 50), c(35, 50), c(33, 50), c(33, 50)] },
  settings: { steps: 100, batchSize: 100, eotIter: 20, compile: false },
  versions: { carso: '0.1.0', node: 'v20.20.2', libtorch: '2.6.0' },
  seconds: 4139.2,
});

export const sweep = (): Sweep => ({
  format: 'carso-sweep/1',
  attack: 'apgd-ce',
  n: 100,
  eps: [0, 0.05, 0.1, 0.15, 0.2],
  curves: [
    { model: 'classifier', accuracy: [c(91, 100), c(72, 100), c(49, 100), c(21, 100), c(6, 100)] },
    { model: 'carso', accuracy: [c(86, 100), c(80, 100), c(70, 100), c(52, 100), c(30, 100)] },
  ],
  seconds: 512.7,
});

/** A soft disc per class position, so the screenshot shows recognisable shapes; values in [0, 1]. */
function image(channels: number, size: number, seed: number, noise: number): number[] {
  const out: number[] = [];
  for (let ch = 0; ch < channels; ch++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const r = Math.hypot(x - size / 2, y - size / 2) / (size / 3);
        const jitter = noise * Math.sin(12.9898 * (x + 1) + 78.233 * (y + 1) + seed + ch);
        out.push(Math.min(1, Math.max(0, (r < 1 ? 0.9 - 0.3 * r : 0.05) + jitter)));
      }
  return out;
}

export function grid(channels: 1 | 3 = 1, size = 28): ImageGrid {
  const point = (index: number, label: number, carso: number) => ({
    index,
    label,
    clean: image(channels, size, index, 0),
    adversarial: image(channels, size, index, 0.1),
    reconstructions: [1, 2, 3].map((k) => image(channels, size, index + k, 0.03)),
    predictedClean: label,
    predictedAdversarialClassifier: (label + 2) % 10,
    predictedAdversarialCarso: carso,
  });
  return { format: 'carso-grid/1', classNames: FMNIST, channels, size, eps: 0.1, points: [point(0, 9, 9), point(1, 2, 6)] };
}

/** Writes the run files into dir (created); `sweep` and `grid` false leave them out. */
export function writeRun(dir: string, opts: { sweep?: boolean; grid?: boolean; channels?: 1 | 3 } = {}): void {
  mkdirSync(dir, { recursive: true });
  const put = (name: string, v: unknown): void => writeFileSync(join(dir, name), JSON.stringify(v, null, 2));
  put('eval.json', evalResult());
  if (opts.sweep !== false) put('sweep.json', sweep());
  if (opts.grid !== false) put('grid.json', grid(opts.channels));
}

/** An accuracy as the report prints it: '94/200 (47.0%, 95% CI 40.2–53.9%)'. */
export const COUNT = /(\d+)\/(\d+) \((\d+\.\d)%, 95% CI (\d+\.\d)–(\d+\.\d)%\)/g;

/** The printed parts of a count: k, n and the three percentages with one decimal. */
export const printed = (c: CountWithInterval): string[] =>
  [c.correct, c.total].map(String).concat([c.accuracy, c.ci95.lo, c.ci95.hi].map((x) => (100 * x).toFixed(1)));

/** Every CountWithInterval anywhere in a parsed JSON value. */
export function countsIn(v: unknown): CountWithInterval[] {
  if (Array.isArray(v)) return v.flatMap(countsIn);
  if (typeof v !== 'object' || v === null) return [];
  const o = v as Record<string, unknown>;
  const own = typeof o['correct'] === 'number' && typeof o['ci95'] === 'object' ? [o as unknown as CountWithInterval] : [];
  return [...own, ...Object.values(o).flatMap(countsIn)];
}
