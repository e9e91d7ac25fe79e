// Accuracy of a model on a dataset, clean or under an attack, in batches.
import type { ImageDataset } from '../data/index.js';
import { makeBatch } from '../data/index.js';
import type { Attack, Model } from '../attacks/index.js';
import { noGrad, tidy, type Device } from '../tensor/index.js';

/** Indices [start, start + n) as an Int32Array. */
export function range(start: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => start + i);
}

/** Per point: is the prediction right? Clean when `attack` is omitted. */
export function correctness(
  model: Model,
  ds: ImageDataset,
  indices: Int32Array,
  batchSize: number,
  attack?: Attack,
  device?: Device,
): boolean[] {
  const out: boolean[] = [];
  for (let s = 0; s < indices.length; s += batchSize) {
    const b = makeBatch(ds, indices.subarray(s, s + batchSize), undefined, device);
    tidy(() => {
      const x = attack ? attack.attack(model, b.x, b.y).xAdv : b.x;
      const pred = noGrad(() => model.forward(x).argmax(1).toArray());
      const y = b.y.toArray();
      pred.forEach((p, i) => out.push(p === y[i]));
    });
    b.x.dispose();
    b.y.dispose();
  }
  return out;
}

export function accuracy(
  model: Model,
  ds: ImageDataset,
  indices: Int32Array,
  batchSize: number,
  attack?: Attack,
  device?: Device,
): number {
  const c = correctness(model, ds, indices, batchSize, attack, device);
  return c.filter(Boolean).length / Math.max(1, c.length);
}
