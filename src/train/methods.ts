// The per-batch training objectives. Each returns the loss to minimise; the
// inner maximisations reuse the attack code (src/attacks).
//   standard  CE(f(x), y)
//   pgd-at    CE(f(x'), y), x' = Linf PGD (random start), Madry et al. (attacks.md 9.1)
//   fast-at   CE(f(x'), y), x' = FGSM with random start, alpha 1.25 eps (Wong et al., 9.2)
//   trades    CE(f(x), y) + beta/B * sum KL(f(x) || f(x')), x' maximises the KL (9.3)
import type { Module } from '../nn/index.js';
import { Tensor, grad, noGrad, randnLike, tidy } from '../tensor/index.js';
import { Linf, ceLoss, fgsmStep, pgdRun } from '../attacks/index.js';
import { asModel } from '../attacks/model.js';
import type { TrainConfig } from './config.js';

/** The default attack step per method. */
export function defaultAlpha(c: TrainConfig): number {
  if (c.alpha !== undefined) return c.alpha;
  return c.method === 'fast-at' ? 1.25 * c.eps : (2.5 * c.eps) / c.steps;
}

/** Loss on one batch (x: [B, C, H, W] in [0, 1], y: [B] int64) with the model in train mode. */
export function trainingLoss(model: Module, x: Tensor, y: Tensor, c: TrainConfig): { loss: Tensor; logits: Tensor } {
  const alpha = defaultAlpha(c);
  const m = asModel(model);
  switch (c.method) {
    case 'standard': {
      const logits = model.call(x);
      return { loss: logits.crossEntropy(y), logits };
    }
    case 'pgd-at': {
      // NOTE: the attack runs with the model in train mode, as Rice et al.
      const cfg = { norm: Linf, eps: c.eps, alpha, steps: c.steps, randomStart: true, lossFn: ceLoss, eotIter: 1 };
      const r = pgdRun(m, x, y, cfg);
      if (r.xBestAdv !== r.xAdv) r.xBestAdv.dispose(); // they may be the same tensor
      const logits = model.call(r.xAdv);
      return { loss: logits.crossEntropy(y), logits };
    }
    case 'fast-at': {
      const cfg = { norm: Linf, eps: c.eps, alpha, randomStart: true, lossFn: ceLoss, eotIter: 1 };
      const logits = model.call(fgsmStep(m, x, y, cfg).xAdv);
      return { loss: logits.crossEntropy(y), logits };
    }
    case 'trades':
      return tradesLoss(model, x, y, c, alpha);
  }
}

function tradesLoss(model: Module, x: Tensor, y: Tensor, c: TrainConfig, alpha: number): { loss: Tensor; logits: Tensor } {
  // Inner maximisation in eval mode from x + 0.001 N(0, I) (not clipped first).
  model.eval();
  const pNat = noGrad(() => model.call(x).softmax(1));
  let xAdv = tidy(() => x.add(randnLike(x).mul(0.001)));
  for (let k = 0; k < c.steps; k++) {
    const next = tidy(() => {
      const xr = xAdv.detach().requiresGrad_();
      const kl = model.call(xr).logSoftmax(1).klDiv(pNat, 'sum');
      const [g] = grad(kl, [xr]);
      return Linf.project(xr.detach().add(g!.sign().mul(alpha)), x, c.eps);
    });
    xAdv.dispose();
    xAdv = next;
  }
  pNat.dispose();
  model.train();
  // NOTE: as the official code, the natural softmax inside the KL is not detached.
  const logits = model.call(x);
  const advLogits = model.call(xAdv.clamp(0, 1));
  const robust = advLogits.logSoftmax(1).klDiv(logits.softmax(1), 'sum').div(x.size(0));
  return { loss: logits.crossEntropy(y).add(robust.mul(c.beta)), logits };
}
