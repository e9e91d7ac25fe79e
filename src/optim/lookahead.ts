// Lookahead (Zhang, Lucas, Hinton & Ba 2019, "Lookahead Optimizer: k steps
// forward, 1 step back") around any optimiser: the inner optimiser moves the
// fast weights (the model's parameters); every k steps
//   slow += alpha * (fast - slow);  fast = slow
// Slow weights start as a copy of the parameters. No momentum pull-back (the
// inner state is left alone), as CARSO's ebtorch setting pullback_momentum="none".
// NOTE: ebtorch computes fast * alpha + slow * (1 - alpha); lerp is the same
// value up to float32 rounding (1 ulp).
//
//     const opt = new Lookahead(new RAdam(params, { lr }), { k: 6, alpha: 0.8 });
//     ... train ...
//     opt.loadSlowWeights(); // what CARSO saves (carso.md 3.6)
import { keep, noGrad, tidy, dispose, type Tensor } from '../tensor/index.js';
import type { Hyper, Optimizer, OptimizerLike, OptimizerState, ParamGroup } from './optimizer.js';

export interface LookaheadOptions {
  /** fast steps per slow update, default 5 (CARSO: 6) */
  k?: number;
  /** interpolation factor, default 0.8 (1 recovers the inner optimiser) */
  alpha?: number;
}

const PREFIX = 'lookahead.';

export class Lookahead<H extends Hyper> implements OptimizerLike {
  readonly kind: string;
  k: number;
  alpha: number;
  /** Fast steps since the last slow update. */
  counter = 0;
  private readonly slow: Tensor[];
  private readonly params: Tensor[];

  constructor(
    readonly inner: Optimizer<H>,
    opts: LookaheadOptions = {},
  ) {
    this.kind = `Lookahead(${inner.kind})`;
    this.k = opts.k ?? 5;
    this.alpha = opts.alpha ?? 0.8;
    if (!Number.isInteger(this.k) || this.k < 1) throw new Error(`Lookahead: k must be a positive integer, got ${this.k}`);
    this.params = inner.params;
    // NOTE: a clone made under noGrad has no history: no detach (and no extra handle) needed.
    this.slow = this.params.map((p) => keep(noGrad(() => p.clone())));
  }

  get paramGroups(): ParamGroup<H>[] {
    return this.inner.paramGroups;
  }

  zeroGrad(): void {
    this.inner.zeroGrad();
  }

  step(): void {
    this.inner.step();
    this.counter += 1;
    if (this.counter < this.k) return;
    this.counter = 0;
    noGrad(() =>
      tidy(() => {
        this.params.forEach((fast, i) => {
          const slow = this.slow[i]!;
          slow.lerp_(fast, this.alpha);
          fast.copy_(slow);
        });
      }),
    );
  }

  /** The slow weights, in parameter order. Owned by the optimiser: read, do not dispose. */
  slowWeights(): readonly Tensor[] {
    return this.slow;
  }

  /** Copies the slow weights into the parameters (CARSO does this before saving the model). */
  loadSlowWeights(): void {
    noGrad(() => this.params.forEach((p, i) => p.copy_(this.slow[i]!)));
  }

  /** Runs fn with the slow weights in the parameters (e.g. to evaluate), then puts the fast ones back. */
  withSlowWeights<T>(fn: () => T): T {
    const backup = noGrad(() => this.params.map((p) => keep(p.clone())));
    this.loadSlowWeights();
    try {
      return fn();
    } finally {
      noGrad(() => this.params.forEach((p, i) => p.copy_(backup[i]!)));
      dispose(backup);
    }
  }

  /** The inner optimiser's checkpoint plus 'lookahead.counter|k|alpha' and 'lookahead.slow.<i>'. */
  stateDict(): OptimizerState {
    const sd = this.inner.stateDict();
    sd.kind = this.kind;
    sd.scalars[`${PREFIX}counter`] = this.counter;
    sd.scalars[`${PREFIX}k`] = this.k;
    sd.scalars[`${PREFIX}alpha`] = this.alpha;
    this.slow.forEach((s, i) => (sd.tensors[`${PREFIX}slow.${i}`] = s.clone()));
    return sd;
  }

  loadStateDict(sd: OptimizerState): void {
    if (sd.kind !== this.kind) throw new Error(`loadStateDict: checkpoint is for ${sd.kind}, this is ${this.kind}`);
    const own = (k: string): boolean => k.startsWith(PREFIX);
    const slow = this.slow.map((s, i) => {
      const t = sd.tensors[`${PREFIX}slow.${i}`];
      if (t === undefined || t.shape.join() !== s.shape.join())
        throw new Error(`loadStateDict: slow weights ${i} missing or misshapen`);
      return t;
    });
    const scalar = (name: string): number => {
      const v = sd.scalars[PREFIX + name];
      if (v === undefined) throw new Error(`loadStateDict: ${PREFIX + name} missing`);
      return v;
    };
    const [counter, k, alpha] = [scalar('counter'), scalar('k'), scalar('alpha')];
    this.inner.loadStateDict({
      kind: this.inner.kind,
      groups: sd.groups,
      scalars: Object.fromEntries(Object.entries(sd.scalars).filter(([key]) => !own(key))),
      tensors: Object.fromEntries(Object.entries(sd.tensors).filter(([key]) => !own(key))),
    });
    noGrad(() => this.slow.forEach((s, i) => s.copy_(slow[i]!)));
    this.counter = counter;
    this.k = k;
    this.alpha = alpha;
  }

  /** Frees the slow weights and the inner optimiser's state. */
  dispose(): void {
    this.inner.dispose();
    dispose(this.slow);
  }
}
