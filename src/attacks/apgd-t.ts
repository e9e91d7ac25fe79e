// APGD-T — targeted APGD with the targeted DLR loss (Croce & Hein, ICML 2020),
// as fra31 `APGDAttack_targeted` (attacks.md §4.5). Norms: Linf, L2.
//
// Options (defaults = AutoAttack 'standard'):
//   eps (required), norm 'Linf', nIter 100, nTargetClasses 9 (clipped to K − 1
//   with a warning), nRestarts 1 (per target class), eotIter 1, rho 0.75, seed 0.
// For tc = 2 … nTargetClasses + 1 and each restart, the still-robust points are
// attacked towards their tc-th most likely clean class (one fresh forward pass);
// success = misclassified as ANY class, not necessarily the target. Needs K ≥ 4.
import { Tensor, noGrad, tidy } from '../tensor/index.js';
import { apgdPass, apgdSettings, type ApgdOptions, type ApgdSettings } from './apgd.js';
import { runOnRobust, warn } from './common.js';
import { dlrTargeted } from './losses.js';
import type { Attack, AttackResult, Model, Norm } from './types.js';

export interface ApgdTOptions extends Omit<ApgdOptions, 'loss'> {
  nTargetClasses?: number;
}

export class APGDT implements Attack {
  readonly name = 'apgd-t';
  readonly norm: Norm;
  readonly eps: number;
  private readonly s: ApgdSettings;
  private readonly nTargetClasses: number;

  constructor(opts: ApgdTOptions) {
    this.s = apgdSettings(this.name, opts);
    this.norm = this.s.norm;
    this.eps = this.s.eps;
    this.nTargetClasses = opts.nTargetClasses ?? 9;
    if (!Number.isInteger(this.nTargetClasses) || this.nTargetClasses < 1)
      throw new Error(`apgd-t: nTargetClasses must be an integer >= 1 (got ${this.nTargetClasses})`);
  }

  attack(model: Model, x: Tensor, y: Tensor): AttackResult {
    const passes = this.nTargetClasses * this.s.nRestarts;
    return runOnRobust(this.name, model, x, y, { passes, seed: this.s.seed, minClasses: 4 }, (xs, ys, pass, K) => {
      const nTargets = Math.min(this.nTargetClasses, K - 1);
      if (nTargets < this.nTargetClasses) warn(`apgd-t: nTargetClasses ${this.nTargetClasses} clipped to K - 1 = ${K - 1}`);
      const tc = 2 + Math.floor(pass / this.s.nRestarts);
      if (tc > nTargets + 1) return { xAdv: xs, fooled: [], nonFinite: [], queries: 0 };
      // the tc-th largest clean logit (fra31: sort ascending, index −tc)
      const target = noGrad(() =>
        tidy(() =>
          model
            .forward(xs)
            .sort(1)[1]
            .select(1, K - tc),
        ),
      );
      const r = apgdPass(model, this.s, dlrTargeted(target), xs, ys, true);
      return { ...r, queries: r.queries + 1 };
    });
  }
}
