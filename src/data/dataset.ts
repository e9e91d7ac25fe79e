// An image classification data set held in memory as uint8, the form the
// files store: images [N, C, H, W] (NCHW, 0..255) and labels [N]. Batches are
// converted to float32 only when served (batch.ts), so CIFAR-10 costs 150 MB,
// not 600.

export type Split = 'train' | 'test';

/** Options every loader takes (see registry.ts for the defaults of `root`). */
export interface LoadOptions {
  /** Folder holding the data set (or its usual extracted folder). */
  root?: string;
  /** Default 'train'. */
  split?: Split;
  /** Load only the first `limit` points (in file order). */
  limit?: number;
  /** CIFAR-100 only: serve the 20 coarse labels instead of the 100 fine ones. */
  coarse?: boolean;
}

export class ImageDataset {
  /** Number of points N. */
  readonly length: number;

  constructor(
    readonly name: string,
    /** [N, C, H, W] uint8 */
    readonly images: Uint8Array,
    /** [N], each in [0, classes.length) */
    readonly labels: Int32Array,
    /** [C, H, W] of one image */
    readonly imageShape: readonly [number, number, number],
    readonly classes: readonly string[],
  ) {
    this.length = labels.length;
    const [c, h, w] = imageShape;
    if (images.length !== this.length * c * h * w)
      throw new Error(`${name}: ${images.length} pixel bytes for ${this.length} images of [${c}, ${h}, ${w}]`);
  }

  /** C * H * W */
  get imageSize(): number {
    return this.imageShape[0] * this.imageShape[1] * this.imageShape[2];
  }

  /** Image i as a view: [C, H, W] uint8. */
  image(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.length)
      throw new RangeError(`${this.name}: image index ${i} outside [0, ${this.length})`);
    return this.images.subarray(i * this.imageSize, (i + 1) * this.imageSize);
  }

  /** The first n points (views, no copy). */
  take(n: number): ImageDataset {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${this.name}: take(${n}) needs a non-negative integer`);
    if (n >= this.length) return this;
    return new ImageDataset(
      this.name,
      this.images.subarray(0, n * this.imageSize),
      this.labels.subarray(0, n),
      this.imageShape,
      this.classes,
    );
  }
}
