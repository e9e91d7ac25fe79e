// DataLoader: seeded shuffling, batching, a held-out validation split and
// on-the-fly augmentation over an in-memory ImageDataset.
//
// Randomness comes from three PCG32 streams of one seed (order, augmentation,
// holdout), so changing e.g. the augmentation leaves the order unchanged.
// Resuming: `state()` after any batch, stored with a checkpoint, and
// `setState()` on a loader built with the same options reproduce the rest of
// the epoch (order and augmentation) and every later epoch.
//
//     const train = new DataLoader(ds, { batchSize: 128, shuffle: true, seed: 1, augment: CIFAR_AUGMENT,
//                                        holdout: { size: 5000, part: 'train' } });
//     for (const { x, y } of train) { ...; dispose([x, y]); }   // x: [128, 3, 32, 32], y: [128]
import type { Device } from '../tensor/index.js';
import { drawTransform, makeBatch, type Augment, type Batch } from './batch.js';
import type { ImageDataset } from './dataset.js';
import { Pcg32, type RngState } from './random.js';

const STREAM = { order: 1, augment: 2, holdout: 3 };

export interface Holdout {
  /** Points held out for validation: a count, or a fraction of the data set if below 1. */
  size: number;
  /** Which side this loader serves. */
  part: 'train' | 'val';
  /** Picks the held-out points; default 0, independent of the loader's seed so that both sides agree. */
  seed?: number;
}

export interface LoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Seeds order and augmentation (default 0). */
  seed?: number;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
  /** Use only the first `limit` points of the data set (before the holdout split). */
  limit?: number;
  holdout?: Holdout;
  augment?: Augment;
  /** Where x and y are created (default CPU). */
  device?: Device;
  /**
   * Data-parallel training: serve only rows [rank B/size, (rank + 1) B/size) of
   * every batch. Order, augmentation and state are those of the whole loader,
   * so the ranks' rows concatenated in rank order are the single-process batch.
   * Needs dropLast and a batch size divisible by `size`.
   */
  shard?: { rank: number; size: number };
}

/** Everything needed to resume: JSON-serialisable. */
export interface LoaderState {
  /** Completed epochs. */
  epoch: number;
  /** Next batch within the current epoch. */
  batch: number;
  /** The order stream at the start of the current epoch (the epoch's order is redrawn from it). */
  order: RngState;
  augment: RngState;
  /** Points per epoch, checked on restore. */
  size: number;
}

/**
 * Splits [0, n) into sorted, disjoint train and val index sets, `valSize`
 * val points (a count, or a fraction of n if below 1) drawn by `seed`.
 */
export function holdOut(n: number, valSize: number, seed = 0): { train: Int32Array; val: Int32Array } {
  const k = valSize < 1 ? Math.round(valSize * n) : valSize;
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new Error(`holdOut: size ${valSize} must be a fraction in [0, 1) or an integer count in [0, ${n}]`);
  const perm = new Pcg32(seed, STREAM.holdout).shuffle(Int32Array.from({ length: n }, (_, i) => i));
  return { train: perm.slice(k).sort(), val: perm.slice(0, k).sort() };
}

function checkShard(s: { rank: number; size: number }, batchSize: number, dropLast: boolean): void {
  if (!Number.isInteger(s.size) || s.size < 1 || !Number.isInteger(s.rank) || s.rank < 0 || s.rank >= s.size)
    throw new Error(`DataLoader: shard rank ${s.rank} of ${s.size} is not a rank of a group`);
  if (batchSize % s.size !== 0)
    throw new Error(`DataLoader: batch size ${batchSize} does not split over ${s.size} ranks (it must be divisible)`);
  if (!dropLast) throw new Error('DataLoader: a sharded loader needs dropLast (a last partial batch would split unevenly)');
}

export class DataLoader implements Iterable<Batch> {
  /** Dataset points served each epoch (before shuffling), ascending. */
  readonly indices: Int32Array;
  private readonly orderRng: Pcg32;
  private readonly augRng: Pcg32;
  private epochStart: RngState;
  private order: Int32Array | null = null; // this epoch's order, drawn lazily from epochStart
  private pos = 0;
  private epochs = 0;
  private restores = 0; // bumped by setState: an iteration in flight then stops

  constructor(
    readonly dataset: ImageDataset,
    readonly options: LoaderOptions,
  ) {
    const { batchSize, seed = 0, limit, holdout, augment } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    const pad = augment?.cropPadding ?? 0;
    if (!Number.isInteger(pad) || pad < 0)
      throw new Error(`DataLoader: augment.cropPadding must be a non-negative integer, got ${pad}`);
    const n = limit === undefined ? dataset.length : Math.min(dataset.length, limit);
    if (!Number.isInteger(n) || n < 0) throw new Error(`DataLoader: limit must be a non-negative integer, got ${limit}`);
    const all = Int32Array.from({ length: n }, (_, i) => i);
    if (holdout !== undefined && holdout.part !== 'train' && holdout.part !== 'val')
      throw new Error(`DataLoader: holdout.part must be 'train' or 'val', got ${JSON.stringify(holdout.part)}`);
    this.indices = holdout === undefined ? all : holdOut(n, holdout.size, holdout.seed)[holdout.part];
    if (options.shard !== undefined) checkShard(options.shard, batchSize, options.dropLast === true);
    this.orderRng = new Pcg32(seed, STREAM.order);
    this.augRng = new Pcg32(seed, STREAM.augment);
    this.epochStart = this.orderRng.state();
  }

  /** Points per epoch. */
  get size(): number {
    return this.indices.length;
  }

  /** Batches per epoch. */
  get length(): number {
    const b = this.options.batchSize;
    return this.options.dropLast === true ? Math.floor(this.size / b) : Math.ceil(this.size / b);
  }

  /** Completed epochs. */
  get epoch(): number {
    return this.epochs;
  }

  /**
   * One epoch of batches. Leaving the loop early keeps the epoch open: the
   * next iteration continues it (this is how a restored state resumes).
   */
  *[Symbol.iterator](): Generator<Batch> {
    if (this.order === null) {
      this.orderRng.setState(this.epochStart);
      this.order = this.options.shuffle === true ? this.orderRng.shuffle(this.indices.slice()) : this.indices;
    }
    const { order, restores } = this;
    const { batchSize, augment, device } = this.options;
    while (this.pos < this.length) {
      if (this.restores !== restores) return;
      const index = order.slice(this.pos * batchSize, (this.pos + 1) * batchSize);
      const transforms = augment === undefined ? undefined : Array.from(index, () => drawTransform(this.augRng, augment));
      this.pos++; // before yielding, so that state() inside the loop body points past this batch
      const shard = this.options.shard;
      if (shard === undefined) yield makeBatch(this.dataset, index, transforms, device);
      else {
        // NOTE: every rank draws the whole batch's transforms, so the streams stay those of one process.
        const [lo, hi] = [(shard.rank * batchSize) / shard.size, ((shard.rank + 1) * batchSize) / shard.size];
        yield makeBatch(this.dataset, index.slice(lo, hi), transforms?.slice(lo, hi), device);
      }
    }
    this.epochs++;
    this.pos = 0;
    this.order = null;
    this.epochStart = this.orderRng.state();
  }

  state(): LoaderState {
    return { epoch: this.epochs, batch: this.pos, order: this.epochStart, augment: this.augRng.state(), size: this.size };
  }

  /** Restores a state() taken from a loader with the same dataset and options; takes effect at the next iteration. */
  setState(s: LoaderState): void {
    if (s.size !== this.size)
      throw new Error(`DataLoader.setState: state is for ${s.size} points per epoch, this loader serves ${this.size}`);
    if (!Number.isInteger(s.batch) || s.batch < 0 || s.batch > this.length)
      throw new Error(`DataLoader.setState: batch ${s.batch} outside [0, ${this.length}]`);
    this.epochs = s.epoch;
    this.pos = s.batch;
    this.epochStart = s.order;
    this.augRng.setState(s.augment);
    this.order = null;
    this.restores++;
  }
}
