// The purifier's training objective, per batch (carso.md 3.4-3.5): the batch
// split into clean and adversarial parts, the KL warm-up, and the loss.
//
//     const a = chunkSize(640, 0.5);                       // 80: 320 clean + 4 x 80 attacked
//     const xTilde = adversarialBatch(asModel(f), x, y, { fraction: 0.5, epsWeak, epsStrong });
//     const { loss } = purifierLoss(carso.forwardTrain(xTilde), x, betaAt(epoch, 200));
import { cat, tidy, type Tensor } from '../tensor/index.js';
import { Linf, ceLoss, fgsmStep, pgdRun, type Model } from '../attacks/index.js';
import type { TrainOutput } from './carso.js';

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
}

/**
 * The perturbed batch x̃ (AdverApply): rows [0, B - 4a) clean, then four chunks
 * of a rows attacked, in order, by PGD-weak, PGD-strong, FGSM-weak, FGSM-strong
 * against `classifier` alone (untargeted CE summed over the chunk, clipped to
 * [0, 1], PGD from a uniform random start). x: [B, C, H, W], y: int64 [B] ->
 * [B, C, H, W], rows aligned with x (the clean x stays the reconstruction target).
 */
export function adversarialBatch(classifier: Model, x: Tensor, y: Tensor, s: AdversarialSplit): Tensor {
  const B = x.size(0);
  const a = chunkSize(B, s.fraction);
  if (a === 0) return x.clone();
  const clean = B - 4 * a;
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
    const parts = attacks.map((attack, i) => attack(x.narrow(0, clean + i * a, a), y.narrow(0, clean + i * a, a)));
    return cat(clean > 0 ? [x.narrow(0, 0, clean), ...parts] : parts, 0);
  });
}

/**
 * L = Σ BCE(x̂, x) + β · ½ Σ (μ² + exp(log σ²) − log σ² − 1), sums over batch and
 * pixels / latent dims (ebtorch beta_reco_bce_splitout). x: clean [B, C, H, W] in [0, 1].
 */
export function purifierLoss(out: TrainOutput, x: Tensor, beta: number): { loss: Tensor; bce: Tensor; kld: Tensor } {
  return tidy(() => {
    const bce = out.xHat.binaryCrossEntropy(x, 'sum');
    const kld = out.mu.square().add(out.logvar.exp()).sub(out.logvar).sub(1).sum().mul(0.5);
    return { loss: bce.add(kld.mul(beta)), bce, kld };
  });
}
