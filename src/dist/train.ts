// The hooks an epoch loop (train/loop.ts, carso/train.ts) calls so that it runs
// data-parallel on a process group, or unchanged on one process:
//
//   shard        the loader serves this rank's rows of every global batch
//                (data/loader.ts `shard`): batch size B / W each, the global
//                order and augmentation unchanged, so the checkpointed loader
//                state resumes on any world size W that divides B;
//   startEpoch   each rank reseeds libtorch from (seed, epoch, rank): the ranks
//                draw different attack starts and latent samples, and a resumed
//                run draws what the uninterrupted one did;
//   afterBackward  the gradient reduction (ddp.ts);
//   totals       an epoch's sums (loss, correct, seen) over the ranks, for metrics;
//   writes       rank 0 alone writes checkpoints, metrics and weights.
//
// On one process every hook is the identity and the RNG is left alone, so
// single-process runs are bit for bit what they were.
//
//     const dp = new TrainingRank(group, model, 'mean');
//     for (const b of loader) { ...; loss.backward(); dp.afterBackward(); opt.step(); }
import { createHash } from 'node:crypto';
import type { Module } from '../nn/index.js';
import { manualSeed } from '../tensor/index.js';
import { DataParallel, sumOver, type GradientReduction } from './ddp.js';
import type { ProcessGroup } from './group.js';

export class TrainingRank {
  private readonly dp: DataParallel | null;
  readonly rank: number;
  readonly size: number;

  /** group null (or of size 1): a single-process run. Broadcasts the model from rank 0. */
  constructor(group: ProcessGroup | null | undefined, model: Module, reduction: GradientReduction) {
    this.dp = group === null || group === undefined || group.size === 1 ? null : new DataParallel(model, group, reduction);
    this.rank = group?.rank ?? 0;
    this.size = group?.size ?? 1;
  }

  /** True on the rank that writes files (rank 0). */
  get writes(): boolean {
    return this.rank === 0;
  }

  /** The loader's `shard` option (undefined on one process); the global batch must split evenly. */
  shard(globalBatch: number): { rank: number; size: number } | undefined {
    if (this.dp === null) return undefined;
    if (globalBatch % this.size !== 0)
      throw new Error(
        `batch size ${globalBatch} does not split over ${this.size} ranks: use a batch size divisible by the world size`,
      );
    return { rank: this.rank, size: this.size };
  }

  startEpoch(seed: number, epoch: number): void {
    if (this.dp !== null) manualSeed(rankSeed(seed, epoch, this.rank));
  }

  afterBackward(): void {
    this.dp?.reduceGradients();
  }

  /** Elementwise sums over the ranks (the values themselves on one process). */
  totals<const T extends readonly number[]>(values: T): { -readonly [K in keyof T]: number } {
    const out = this.dp === null ? [...values] : sumOver(this.dp.group, values);
    return out as { -readonly [K in keyof T]: number };
  }

  /** Waits for every rank (e.g. before reading what rank 0 wrote). */
  barrier(): void {
    this.dp?.group.barrier();
  }

  /** Back to local BatchNorm statistics (after training). */
  release(): void {
    this.dp?.release();
  }
}

/** A libtorch seed per (run seed, epoch, rank). */
export function rankSeed(seed: number, epoch: number, rank: number): number {
  return createHash('sha256').update(`carso-dp/${seed}/${epoch}/${rank}`).digest().readUInt32LE(0) % 2 ** 31;
}
