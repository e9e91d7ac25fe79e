// Loads test/fixtures/optim/optimizers.json (written by test/fixtures/gen_optim.py)
// and builds the carso optimiser each case describes.
import { readFileSync } from 'node:fs';
import { tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { SGD, Adam, AdamW, RAdam, Lookahead, type OptimizerLike, type Hyper, type Optimizer } from '../../src/optim/index.js';
import type { SGDOptions, AdamOptions, RAdamOptions } from '../../src/optim/index.js';

type Values = Record<string, number[]>;
/** Every optimiser's options: a case uses its own optimiser's subset. */
type AnyOptions = Partial<SGDOptions & AdamOptions & RAdamOptions> & { lr: number };
export interface OptimCase {
  name: string;
  optim: 'SGD' | 'Adam' | 'AdamW' | 'RAdam';
  opts: AnyOptions;
  groups?: (Partial<AnyOptions> & { params: string[] })[];
  lookahead?: { k: number; alpha: number };
  steps: number;
  /** parameter values after each step */
  expected: Values[];
  /** Lookahead's slow weights after the last step */
  slow?: Values;
}
interface OptimFixture {
  params: Record<string, { shape: number[]; data: number[] }>;
  grads: Record<string, number[] | null>[];
  cases: OptimCase[];
}

export const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/optim/optimizers.json', import.meta.url), 'utf8'),
) as OptimFixture;
export const NAMES = Object.keys(fixture.params);

/** Fresh float32 leaf parameters with the fixture's initial values (outlive any tidy: dispose them). */
export function makeParams(): Record<string, Tensor> {
  return Object.fromEntries(NAMES.map((n) => [n, tensor(fixture.params[n]!.data, fixture.params[n]!.shape).requiresGrad_()]));
}

/** Sets each parameter's .grad to the fixture's gradient for step t (null: no gradient). */
export function setGrads(params: Record<string, Tensor>, t: number): void {
  tidy(() => {
    for (const n of NAMES) {
      const g = fixture.grads[t]![n];
      params[n]!.setGrad(g === null || g === undefined ? null : tensor(g, params[n]!.shape));
    }
  });
}

export function build(c: OptimCase, params: Record<string, Tensor>): OptimizerLike {
  const input =
    c.groups === undefined
      ? NAMES.map((n) => params[n]!)
      : c.groups.map(({ params: ns, ...h }) => ({ params: ns.map((n) => params[n]!), ...h }));
  const inner = make(c.optim, input, c.opts);
  return c.lookahead === undefined ? inner : new Lookahead(inner, c.lookahead);
}

type Input = Tensor[] | (Partial<AnyOptions> & { params: Tensor[] })[];
function make(kind: OptimCase['optim'], input: Input, opts: AnyOptions): Optimizer<Hyper> {
  if (kind === 'SGD') return new SGD(input, opts);
  if (kind === 'Adam') return new Adam(input, opts);
  if (kind === 'AdamW') return new AdamW(input, opts);
  return new RAdam(input, opts);
}
