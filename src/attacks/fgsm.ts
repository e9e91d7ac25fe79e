// FGSM (Goodfellow et al., "Explaining and harnessing adversarial examples",
// ICLR 2015) and FGSM-RS (Wong et al., "Fast is better than free", ICLR 2020;
// torchattacks FFGSM), attacks.md §2. Norms: Linf (the papers), L2 (FGM).
//
// FGSM:    x_adv = P(x + eps·normalizeGrad(∇ loss(x)))
// FGSM-RS: x₀ = x + U(−eps, eps)^d clipped to the box; x_adv = P(x₀ + alpha·normalizeGrad(∇ loss(x₀)))
// Options: eps (required), norm 'Linf', alpha 1.25·eps (FGSM-RS only), loss 'ce',
// eotIter 1, seed 0 (FGSM-RS random start).
// As every carso attack: clean-misclassified points are not attacked and come back
// unchanged, unfooled points come back as the clean x (use `fgsmStep` for the raw
// perturbed batch, e.g. in adversarial training).
import { Tensor, noGrad, tidy } from '../tensor/index.js';
import { checkEps, checkInt, checkPositive, runOnRobust, type BaseOptions, type PassResult } from './common.js';
import { lossAndGrad } from './eot.js';
import { LOSSES, type LossFn, type LossName } from './losses.js';
import { normOf, type NormStrategy } from './norms.js';
import type { Attack, AttackResult, Model, Norm } from './types.js';

export interface FgsmOptions extends BaseOptions {
  loss?: LossName;
}

export interface FgsmRsOptions extends FgsmOptions {
  /** Step size (default 1.25·eps, Wong et al.). */
  alpha?: number;
}

export interface FgsmStepConfig {
  norm: NormStrategy;
  eps: number;
  alpha: number;
  randomStart: boolean;
  lossFn: LossFn;
  eotIter: number;
}

/** One (random-start) gradient step on every point of x: [B, ...]; x_adv stays in ball ∩ box. */
export function fgsmStep(
  model: Model,
  x: Tensor,
  y: Tensor,
  c: FgsmStepConfig,
): { xAdv: Tensor; nonFinite: boolean[]; queries: number } {
  let nonFinite: boolean[] = [];
  const xAdv = tidy(() => {
    const x0 = c.randomStart ? c.norm.randomStart(x, c.eps, 'uniform') : x;
    const e = lossAndGrad(model, x0, y, c.lossFn, c.eotIter);
    nonFinite = e.nonFinite;
    return c.norm.project(x0.add(c.norm.normalizeGrad(e.grad).mul(c.alpha)), x, c.eps);
  });
  return { xAdv, nonFinite, queries: c.eotIter };
}

/** A single-step pass for the robust-points driver: fooled = misclassified at the step's result. */
function stepPass(model: Model, x: Tensor, y: Tensor, c: FgsmStepConfig): PassResult {
  const r = fgsmStep(model, x, y, c);
  const labels = y.toArray();
  const pred = noGrad(() => tidy(() => model.forward(r.xAdv).argmax(1).toArray()));
  return { ...r, fooled: pred.map((p, i) => p !== labels[i]), queries: r.queries + 1 };
}

abstract class SingleStep implements Attack {
  abstract readonly name: string;
  readonly norm: Norm;
  readonly eps: number;
  protected readonly cfg: FgsmStepConfig;
  private readonly seed: number;

  constructor(name: string, o: FgsmRsOptions, alpha: number, randomStart: boolean) {
    checkEps(name, o.eps);
    checkPositive(name, 'alpha', alpha);
    this.norm = o.norm ?? 'Linf';
    this.eps = o.eps;
    this.seed = o.seed ?? 0;
    checkInt(name, 'seed', this.seed, 0);
    const eotIter = o.eotIter ?? 1;
    checkInt(name, 'eotIter', eotIter, 1);
    this.cfg = { norm: normOf(this.norm), eps: o.eps, alpha, randomStart, lossFn: LOSSES[o.loss ?? 'ce'], eotIter };
  }

  attack(model: Model, x: Tensor, y: Tensor): AttackResult {
    return runOnRobust(this.name, model, x, y, { passes: 1, seed: this.seed }, (xs, ys) => stepPass(model, xs, ys, this.cfg));
  }
}

/** FGSM (Linf) / FGM (L2): one full-eps step from x. */
export class FGSM extends SingleStep {
  readonly name = 'fgsm';
  constructor(o: FgsmOptions) {
    super('fgsm', o, o.eps, false);
  }
}

/** FGSM with a uniform random start and step alpha = 1.25·eps (Wong et al. 2020). */
export class FGSMRS extends SingleStep {
  readonly name = 'fgsm-rs';
  constructor(o: FgsmRsOptions) {
    super('fgsm-rs', o, o.alpha ?? 1.25 * o.eps, true);
  }
}
