// The CARSO purifier's optimiser recipe (carso.md 3.6): RAdam (betas 0.9/0.999,
// eps 1e-8, no weight decay, degenerate-to-SGD on) in Lookahead (k 6, alpha 0.8),
// and the per-epoch warm-up / flat / decay schedule, all scaled by the
// per-GPU batch size B: steady lr 1e-4 B, init 5e-9, final 1.25e-8 B.
//
//     const { opt, sched } = carsoTraining(purifierParams, 200, 640);
//     for (let e = 0; e < 200; e++) { trainEpoch(opt); sched.step(); }
//     opt.loadSlowWeights(); // then save the model
import type { Tensor } from '../tensor/index.js';
import { Lookahead } from './lookahead.js';
import { RAdam, type RAdamOptions } from './radam.js';
import { LRScheduler, warmupFlatDecay, type WarmupFlatDecayOptions } from './schedule.js';

/** The schedule's numbers for E epochs and per-GPU batch B (CIFAR: E 200, B 640 -> 25 / 25 / 150 epochs). */
export function carsoScheduleOptions(epochs: number, perGpuBatch: number): WarmupFlatDecayOptions {
  // NOTE: int(0.125 * E) for warm-up and flat, the rest for decay, as the CARSO training script;
  // warmupFlatDecay then applies ebtorch's minimums (3 / 1 / 3).
  const eighth = Math.floor(0.125 * epochs);
  return {
    initLr: 5e-9,
    steadyLr: 1e-4 * perGpuBatch,
    finalLr: 1.25e-8 * perGpuBatch,
    warmupEpochs: eighth,
    flatEpochs: eighth,
    decayEpochs: epochs - 2 * eighth,
  };
}

/** Lookahead(RAdam) at the steady lr, and its LRScheduler (step it once per epoch). */
export function carsoTraining(
  params: readonly Tensor[],
  epochs: number,
  perGpuBatch: number,
): { opt: Lookahead<RAdamOptions>; sched: LRScheduler } {
  const o = carsoScheduleOptions(epochs, perGpuBatch);
  const radam = new RAdam(params, { lr: o.steadyLr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, degenerateToSgd: true });
  const opt = new Lookahead(radam, { k: 6, alpha: 0.8 });
  return { opt, sched: new LRScheduler(opt, warmupFlatDecay(o)) };
}
