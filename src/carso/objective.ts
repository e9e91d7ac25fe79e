// The purifier's training objective, per batch (carso.md 3.4-3.5): the batch
// split into clean and adversarial parts, the KL warm-up, and the loss.
//
//     const a = chunkSize(640, 0.5);                       // 80: 320 clean + 4 x 80 attacked
//     const xTilde = adversarialBatch(asModel(f), x, y, { fraction: 0.5, epsWeak, epsStrong });
//     const { loss } = purifierLoss(carso.forwardTrain(xTilde), x, betaAt(epoch, 200));
import { cat, randn, tidy, zeros, type Tensor } from '../tensor/index.js';
import { Linf, ceLoss, dlrLoss, fgsmStep, pgdRun, type LossFn, type Model } from '../attacks/index.js';
import type { Carso, TrainOutput } from './carso.js';
import type { EndToEndAttack } from './config.js';

/**
 * Samples per attacked chunk: a = floor(B f / 4) (ebtorch AdverApply with 4
 * adversaries). E.g. B 640, f 0.5 -> 80; B 640, f 0.15 -> 24; B 128, f 0.01 -> 0
 * (the shipped TinyImageNet purifier saw no adversarial inputs).
 */
export function chunkSize(batch: number, fraction: number): number {
  return Math.floor((batch * fraction) / 4);
}

/**
 * KL weight at epoch e of E (ebtorch make_beta_scheduler(1, 0.125, 0.125 / 3)):
 * 0 for e < lag = ceil(0.125 E), then (e - lag) / w for w = ceil(E 0.125 / 3)
 * epochs, then 1. CIFAR (E 200): lag 25, w 9, beta = 1 from epoch 34.
 */
export function betaAt(epoch: number, epochs: number, target = 1, lagRatio = 0.125, warmupRatio = 0.125 / 3): number {
  const lag = Math.ceil(epochs * lagRatio);
  if (epoch < lag) return 0;
  const w = Math.ceil(epochs * warmupRatio);
  return epoch < lag + w ? (target * (epoch - lag)) / w : target;
}

/**
 * The 'scaled' KL weight: the reference's proportions (beta 0 for 25 of 200
 * epochs, then a 9-epoch ramp) applied to the training's progress in epochs,
 * batch by batch. NOTE: for short runs the reference's per-epoch rounding turns
 * the ramp into a step (16 epochs: 0, 0, then 1 from epoch 2 on); here 16 epochs
 * give beta 0 up to epoch 2.0, then a ramp over 0.72 epochs (~170 batches of 256).
 * progress: epochs done, fractional (epoch + batch / batches).
 */
export function betaScaled(progress: number, epochs: number, target = 1): number {
  const lag = (epochs * 25) / 200;
  const ramp = (epochs * 9) / 200;
  return target * Math.min(1, Math.max(0, (progress - lag) / ramp));
}

/**
 * The ε of the released training attacks: nominal ε divided by the mean channel
 * std (attacks.py `_epsscaler`: C ε / Σ std), as if inputs were standardised,
 * although the attacked classifier takes [0, 1] pixels. NOTE: a ~4x larger
 * pixel-space ε than the nominal 4/255 and 8/255 (CIFAR-10: 0.06256 / 0.12512);
 * whether the paper meant it is unconfirmed (carso.md 3.4). train.ts uses it as
 * the default for the RGB data sets to reproduce the released purifiers.
 */
export function referenceTrainingEps(nominal: number, std: readonly number[]): number {
  return (std.length * nominal) / std.reduce((a, b) => a + b, 0);
}

export interface AdversarialSplit {
  /** Perturbed fraction f of each batch (0.5 CIFAR-10, 0.15 CIFAR-100, 0.01 Tiny). */
  fraction: number;
  /** Linf radii of the "weak" and "strong" attacks (pixel space). */
  epsWeak: number;
  epsStrong: number;
  /** PGD iterations and step (AdverTorch LinfPGDAttack as configured: 40, 0.01). */
  pgdSteps?: number;
  pgdStepSize?: number;
  /** Rows attacked end to end (not in the paper; see endToEndChunk). */
  endToEnd?: EndToEndChunk;
}

/**
 * The end-to-end chunk: `fraction` of the batch attacked through the whole CARSO
 * (`model`, e.g. endToEndModel) instead of the classifier alone. Why: the
 * end-to-end attacker moves the tapped early activations, and so the class the
 * decoder draws; a purifier that only ever saw attacks on the classifier never
 * learnt to resist that.
 */
export interface EndToEndChunk {
  model: Model;
  fraction: number;
  attack: EndToEndAttack;
  eps: number;
  /** PGD steps (pgd only) and step size (pgd: per step; fgsm-rs: the single step). */
  steps: number;
  step: number;
  loss: 'dlr' | 'ce';
}

/**
 * CARSO as an attacker sees it at inference, with `samples` fresh prior latents
 * per input (0: one z = 0) and the stable aggregation, whatever carso.samples
 * is. The caller puts carso in eval mode first (purifier BatchNorms on their
 * running statistics, as at inference). NOTE: with a collapsed latent (KL ~0.003
 * nats per image) one draw gives the attacker the same gradient direction as 8
 * (measured in the card: e2eLatentCheck), at an eighth of the cost.
 */
export function endToEndModel(carso: Carso, samples: number): Model {
  return {
    stochastic: samples > 0,
    forward(x: Tensor): Tensor {
      const shape = [Math.max(1, samples), x.size(0), carso.geometry.latentDim];
      const z = samples === 0 ? zeros(shape, x.dtype, x.device) : randn(shape, x.dtype, x.device);
      const saved = carso.aggregation;
      carso.aggregation = 'peel';
      try {
        return tidy(() => carso.forwardWithLatents(x, z));
      } finally {
        carso.aggregation = saved;
        z.dispose();
      }
    },
  };
}

/** Rows of a batch of B: [clean | end-to-end e | 4 classifier chunks of a]. */
export function batchLayout(
  B: number,
  s: Pick<AdversarialSplit, 'fraction' | 'endToEnd'>,
): { clean: number; e2e: number; a: number } {
  const a = chunkSize(B, s.fraction);
  const e2e = s.endToEnd ? Math.floor(B * s.endToEnd.fraction) : 0;
  const clean = B - e2e - 4 * a;
  if (clean < 0)
    throw new Error(`adversarialBatch: ${e2e} end-to-end and ${4 * a} classifier-attacked rows exceed the batch of ${B}`);
  return { clean, e2e, a };
}

function endToEndRows(c: EndToEndChunk, x: Tensor, y: Tensor): Tensor {
  const lossFn: LossFn = c.loss === 'dlr' ? dlrLoss : ceLoss;
  const eotIter = 1;
  if (c.attack === 'fgsm-rs')
    return fgsmStep(c.model, x, y, { norm: Linf, eps: c.eps, alpha: c.step, randomStart: true, lossFn, eotIter }).xAdv;
  // the final iterate, as the classifier chunks (the caller's tidy frees the rest)
  return pgdRun(c.model, x, y, { norm: Linf, eps: c.eps, alpha: c.step, steps: c.steps, randomStart: true, lossFn, eotIter })
    .xAdv;
}

/**
 * The perturbed batch x̃ (AdverApply): rows [0, B - 4a) clean, then four chunks
 * of a rows attacked, in order, by PGD-weak, PGD-strong, FGSM-weak, FGSM-strong
 * against `classifier` alone (untargeted CE summed over the chunk, clipped to
 * [0, 1], PGD from a uniform random start). x: [B, C, H, W], y: int64 [B] ->
 * [B, C, H, W], rows aligned with x (the clean x stays the reconstruction target).
 * With s.endToEnd, the last e of the clean rows are attacked end to end instead
 * (batchLayout).
 */
export function adversarialBatch(classifier: Model, x: Tensor, y: Tensor, s: AdversarialSplit): Tensor {
  const B = x.size(0);
  const { clean, e2e, a } = batchLayout(B, s);
  if (a === 0 && e2e === 0) return x.clone();
  const pgd = {
    norm: Linf,
    alpha: s.pgdStepSize ?? 0.01,
    steps: s.pgdSteps ?? 40,
    randomStart: true,
    lossFn: ceLoss,
    eotIter: 1,
  };
  const fgsm = { norm: Linf, randomStart: false, lossFn: ceLoss, eotIter: 1 };
  const attacks: ((xc: Tensor, yc: Tensor) => Tensor)[] = [
    (xc, yc) => pgdRun(classifier, xc, yc, { ...pgd, eps: s.epsWeak }).xAdv,
    (xc, yc) => pgdRun(classifier, xc, yc, { ...pgd, eps: s.epsStrong }).xAdv,
    (xc, yc) => fgsmStep(classifier, xc, yc, { ...fgsm, eps: s.epsWeak, alpha: s.epsWeak }).xAdv,
    (xc, yc) => fgsmStep(classifier, xc, yc, { ...fgsm, eps: s.epsStrong, alpha: s.epsStrong }).xAdv,
  ];
  return tidy(() => {
    const first = clean + e2e;
    const parts = a === 0 ? [] : attacks.map((attack, i) => attack(x.narrow(0, first + i * a, a), y.narrow(0, first + i * a, a)));
    const e2eRows = e2e > 0 ? [endToEndRows(s.endToEnd!, x.narrow(0, clean, e2e), y.narrow(0, clean, e2e))] : [];
    return cat([...(clean > 0 ? [x.narrow(0, 0, clean)] : []), ...e2eRows, ...parts], 0);
  });
}

/**
 * L = Σ BCE(x̂, x) + β · ½ Σ (μ² + exp(log σ²) − log σ² − 1), sums over batch and
 * pixels / latent dims (ebtorch beta_reco_bce_splitout). x: clean [B, C, H, W] in [0, 1].
 * freeBits λ > 0 (not in the paper; Kingma et al. 2016): the KL term becomes
 * B Σ_d max(λ, KL_d), KL_d the batch mean of dimension d's KL, so dimensions
 * under λ nats cost nothing and the optimiser has no reason to close them.
 * `kld` is always the plain KL (what metrics report).
 */
export function purifierLoss(
  out: TrainOutput,
  x: Tensor,
  beta: number,
  freeBits = 0,
  classification?: ClassificationTerm,
): { loss: Tensor; bce: Tensor; kld: Tensor; ce: Tensor | null } {
  return tidy(() => {
    const bce = out.xHat.binaryCrossEntropy(x, 'sum');
    const perDim = out.mu.square().add(out.logvar.exp()).sub(out.logvar).sub(1).mul(0.5); // [B, latent]
    const kld = perDim.sum();
    const B = out.mu.size(0);
    const penalised = freeBits > 0 ? perDim.mean([0]).clamp(freeBits, null).sum().mul(B) : kld;
    const loss = bce.add(penalised.mul(beta));
    if (classification === undefined || classification.weight === 0) return { loss, bce, kld, ce: null };
    const ce = classification.classifier.forward(out.xHat).crossEntropy(classification.y, 'sum');
    return { loss: loss.add(ce.mul(classification.weight)), bce, kld, ce };
  });
}

/**
 * The optional classification term (not in the paper): γ Σ_b CE(f(x̂_b), y_b),
 * the frozen classifier on the reconstructions. Why: BCE rewards pixels, not the
 * class; an adversarial condition that makes the decoder draw a plausible image
 * of another class costs little BCE but is exactly what the attacker wants.
 */
export interface ClassificationTerm {
  classifier: Model;
  /** int64 [B] true labels. */
  y: Tensor;
  weight: number;
}
