// What the fuzzed files load into, built once per process: the small classifier
// with its optimiser, loader and schedule (weights, checkpoints, torch.save
// files), the tiny CARSO's classifier and a narrow purifier geometry (purifier
// files), and the library's own writers as seed makers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader, ImageDataset } from '../../src/data/index.js';
import { readBytes } from '../../src/data/files.js';
import { manualSeed, randn, tidy } from '../../src/tensor/index.js';
import { DECODER_CHANNELS, type CarsoGeometry } from '../../src/carso/index.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, Sequential, Tanh, type Module } from '../../src/nn/index.js';
import { Adam, LRScheduler, multiStep } from '../../src/optim/index.js';
import { TINY_GEOMETRY, tinyClassifier } from '../../test/carso/tiny.js';

/** Writes with `write` to a temporary path and returns the bytes (the library's own writers make the seeds). */
export function written(write: (path: string) => void): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'carso-fuzz-seed-'));
  try {
    write(join(dir, 'seed'));
    return readBytes(join(dir, 'seed'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small classifier: conv, BatchNorm (buffers), linear; x: [B, 1, 6, 6] -> [B, 3]. */
export function smallNet(): Module {
  return new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2), new Tanh(), new Flatten(), new Linear(32, 3));
}

export interface Target {
  net: Module;
  opt: Adam;
  loader: DataLoader;
  scheduler: LRScheduler;
}
let shared: Target | undefined;
/** What the weight and checkpoint inputs load into: module, optimiser, loader, schedule (one per process). */
export function target(): Target {
  if (shared === undefined) {
    manualSeed(0);
    const net = smallNet();
    const opt = new Adam(net.parameters(), { lr: 1e-3 });
    tidy(() =>
      net
        .call(randn([4, 1, 6, 6]))
        .square()
        .sum()
        .backward(),
    );
    opt.step(); // so that the optimiser has state tensors to save
    const ds = new ImageDataset(
      'd',
      new Uint8Array(8 * 36),
      Int32Array.from({ length: 8 }, (_, i) => i % 3),
      [1, 6, 6],
      ['a', 'b', 'c'],
    );
    const loader = new DataLoader(ds, { batchSize: 2, shuffle: true, seed: 1 });
    shared = { net, opt, loader, scheduler: new LRScheduler(opt, multiStep([5])) };
  }
  return shared;
}

// NOTE: the tiny test CARSO (1x12x12 images) with a narrow decoder: a purifier file of a few
// kilobytes, so that 10,000 inputs take minutes; its layout and metadata are every purifier file's.
export const MINI: CarsoGeometry = { ...TINY_GEOMETRY, decoderChannels: DECODER_CHANNELS.map(() => 4) };
let classifier: Module | undefined;
export const purifierClassifier = (): Module => (classifier ??= tinyClassifier());
