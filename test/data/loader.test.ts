// DataLoader on an in-memory data set whose pixels identify image, channel,
// row and column: order, batching, holdout, augmentation and resuming.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeBatch, type Batch } from '../../src/data/batch.js';
import { ImageDataset } from '../../src/data/dataset.js';
import { DataLoader, holdOut, type LoaderOptions, type LoaderState } from '../../src/data/loader.js';
import { dispose } from '../../src/tensor/index.js';

const [C, H, W] = [2, 8, 8];
/** Never 0, so zero padding is recognisable. */
const pixel = (n: number, c: number, y: number, x: number): number => 1 + ((n * 13 + c * 50 + y * 9 + x) % 255);

function synthetic(n: number): ImageDataset {
  const images = new Uint8Array(n * C * H * W); // [N, C, H, W]
  for (let i = 0; i < n; i++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) images[((i * C + c) * H + y) * W + x] = pixel(i, c, y, x);
  return new ImageDataset(
    'synthetic',
    images,
    Int32Array.from({ length: n }, (_, i) => i % 7),
    [C, H, W],
    ['0', '1', '2', '3', '4', '5', '6'],
  );
}

const ds = synthetic(50);

/** Iterates one epoch (or `take` batches), returning plain copies and freeing the tensors. */
function collect(
  loader: DataLoader,
  take = Infinity,
): { index: number[]; x: Float32Array; y: number[]; shape: readonly number[] }[] {
  const out = [];
  for (const b of loader) {
    out.push({ index: Array.from(b.index), x: b.x.toFloat32Array(), y: b.y.toArray(), shape: b.x.shape });
    dispose([b.x, b.y]);
    if (out.length >= take) break;
  }
  return out;
}

const order = (loader: DataLoader): number[] => collect(loader).flatMap((b) => b.index);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('no shuffle: dataset order, batch sizes, exact x / 255, labels, dtypes', () => {
  const batches = collect(new DataLoader(ds, { batchSize: 16 }));
  assert.deepEqual(
    batches.map((b) => b.index.length),
    [16, 16, 16, 2],
  );
  assert.deepEqual(
    batches.flatMap((b) => b.index),
    range(50),
  );
  const b = batches[3]!;
  assert.deepEqual(b.shape, [2, C, H, W]);
  assert.deepEqual(b.y, [48 % 7, 49 % 7]);
  assert.equal(b.x[C * H * W + (1 * H + 3) * W + 5], Math.fround(pixel(49, 1, 3, 5) / 255));
  const one: Batch = makeBatch(ds, Int32Array.of(4));
  assert.equal(one.x.dtype, 'float32');
  assert.equal(one.y.dtype, 'int64');
  dispose([one.x, one.y]);
  assert.deepEqual(
    collect(new DataLoader(ds, { batchSize: 16, dropLast: true })).map((b) => b.index.length),
    [16, 16, 16],
  );
  assert.equal(new DataLoader(ds, { batchSize: 16, dropLast: true }).length, 3);
  assert.deepEqual(order(new DataLoader(ds, { batchSize: 16, limit: 20 })), range(20));
});

test('shuffle: same seed same order, another seed another, a new permutation every epoch', () => {
  const opts: LoaderOptions = { batchSize: 8, shuffle: true, seed: 5 };
  const a = new DataLoader(ds, opts);
  const e0 = order(a);
  const e1 = order(a);
  assert.deepEqual(
    [...e0].sort((p, q) => p - q),
    range(50),
  );
  assert.deepEqual(
    [...e1].sort((p, q) => p - q),
    range(50),
  );
  assert.notDeepEqual(e0, range(50));
  assert.notDeepEqual(e1, e0);
  assert.equal(a.epoch, 2);
  const b = new DataLoader(ds, opts);
  assert.deepEqual(order(b), e0);
  assert.deepEqual(order(b), e1);
  assert.notDeepEqual(order(new DataLoader(ds, { ...opts, seed: 6 })), e0);
});

test('holdout: disjoint, covering, deterministic by its own seed', () => {
  const { train, val } = holdOut(50, 10, 3);
  assert.equal(val.length, 10);
  assert.deepEqual(
    [...train, ...val].sort((p, q) => p - q),
    range(50),
  );
  assert.deepEqual(holdOut(50, 10, 3), { train, val });
  assert.notDeepEqual(holdOut(50, 10, 4).val, val);
  assert.equal(holdOut(50, 0.2, 3).val.length, 10);
  assert.throws(() => holdOut(50, 51), /size 51/);
  // Loaders with different shuffle seeds still agree on the split (holdout seed defaults to 0).
  const trainSet = order(new DataLoader(ds, { batchSize: 7, shuffle: true, seed: 1, holdout: { size: 10, part: 'train' } }));
  const valSet = order(new DataLoader(ds, { batchSize: 7, seed: 2, holdout: { size: 10, part: 'val' } }));
  assert.deepEqual(valSet, Array.from(holdOut(50, 10).val));
  assert.equal(trainSet.length, 40);
  assert.ok(trainSet.every((i) => !valSet.includes(i)));
  // With limit, the split is of the first N points.
  const limited = order(new DataLoader(ds, { batchSize: 7, limit: 20, holdout: { size: 0.25, part: 'val' } }));
  assert.equal(limited.length, 5);
  assert.ok(limited.every((i) => i < 20));
});

/** The (dy, dx, flip) for which row k of x is image i shifted (zeros outside) and maybe mirrored, or undefined. */
function findTransform(
  x: Float32Array,
  k: number,
  i: number,
  pad: number,
): { dy: number; dx: number; flip: boolean } | undefined {
  for (const flip of [false, true])
    for (let dy = -pad; dy <= pad; dy++)
      for (let dx = -pad; dx <= pad; dx++) {
        let ok = true;
        for (let c = 0; c < C && ok; c++)
          for (let y = 0; y < H && ok; y++)
            for (let xo = 0; xo < W && ok; xo++) {
              const [sy, sx] = [y + dy, (flip ? W - 1 - xo : xo) + dx];
              const want = sy >= 0 && sy < H && sx >= 0 && sx < W ? Math.fround(pixel(i, c, sy, sx) / 255) : 0;
              ok = x[((k * C + c) * H + y) * W + xo] === want;
            }
        if (ok) return { dy, dx, flip };
      }
  return undefined;
}

test('augmentation: every crop is a shifted window with zero fill, flips mirror columns, both vary', () => {
  const pad = 2;
  const seen = new Set<string>();
  let flips = 0;
  for (const b of collect(new DataLoader(ds, { batchSize: 25, shuffle: true, augment: { cropPadding: pad, flip: true } })))
    b.index.forEach((i, k) => {
      const t = findTransform(b.x, k, i, pad);
      assert.ok(t !== undefined, `row ${k} (image ${i}) is not a padded crop / flip of its image`);
      seen.add(`${t.dy},${t.dx}`);
      flips += t.flip ? 1 : 0;
    });
  assert.ok(seen.size >= 12, `only ${seen.size} of 25 crop offsets seen`);
  assert.ok(flips > 10 && flips < 40, `${flips} flips in 50`);
  // Flip only: each row is its image, or its image with columns reversed.
  const flipped = collect(new DataLoader(ds, { batchSize: 50, augment: { flip: true } })).flatMap((b) =>
    b.index.map((i, k) => {
      const t = findTransform(b.x, k, i, 0);
      assert.ok(t !== undefined, `row ${k} (image ${i}) is neither its image nor its mirror`);
      return t.flip;
    }),
  );
  assert.ok(flipped.includes(true) && flipped.includes(false));
});

test('state save/restore reproduces the rest of the epoch and the next, augmentation included', () => {
  const opts: LoaderOptions = { batchSize: 6, shuffle: true, seed: 9, augment: { cropPadding: 2, flip: true } };
  const a = new DataLoader(ds, opts);
  collect(a); // epoch 0
  collect(a, 3); // 3 batches of epoch 1, then leave the loop
  const saved = JSON.parse(JSON.stringify(a.state())) as LoaderState;
  assert.equal(saved.epoch, 1);
  assert.equal(saved.batch, 3);
  const rest = collect(a); // the remaining 6 batches of epoch 1 (the loop continues the open epoch)
  const next = collect(a);
  assert.equal(rest.length, a.length - 3);

  const b = new DataLoader(ds, opts);
  b.setState(saved);
  assert.deepEqual(collect(b), rest);
  assert.deepEqual(collect(b), next);
  assert.equal(b.epoch, a.epoch);
  assert.throws(() => new DataLoader(ds, { ...opts, limit: 10 }).setState(saved), /state is for 50 points per epoch/);
});

test('shard: the ranks rows of each batch, concatenated in rank order, are the single loader batch (order, augmentation, state)', () => {
  const o: LoaderOptions = { batchSize: 8, shuffle: true, seed: 3, dropLast: true, augment: { cropPadding: 2, flip: true } };
  for (const size of [2, 4]) {
    const single = new DataLoader(ds, o);
    const ranks = range(size).map((rank) => new DataLoader(ds, { ...o, shard: { rank, size } }));
    for (let epoch = 0; epoch < 2; epoch++) {
      const whole = collect(single);
      const parts = ranks.map((l) => collect(l));
      assert.equal(whole.length, 6); // 50 points, batches of 8, the last 2 dropped
      whole.forEach((b, i) => {
        const rows = parts.map((p) => p[i] as (typeof whole)[number]);
        assert.deepEqual(
          rows.flatMap((r) => r.index),
          b.index,
          `epoch ${epoch} batch ${i}: indices`,
        );
        assert.deepEqual(
          rows.flatMap((r) => Array.from(r.x)),
          Array.from(b.x),
          `epoch ${epoch} batch ${i}: pixels`,
        );
        rows.forEach((r) => assert.deepEqual(r.shape, [8 / size, C, H, W]));
      });
      ranks.forEach((l) => assert.deepEqual(l.state(), single.state()));
    }
    // each point at most once per epoch across the ranks
    const seen = ranks.flatMap((l) => collect(l).flatMap((b) => b.index));
    assert.equal(new Set(seen).size, seen.length);
  }
  assert.throws(() => new DataLoader(ds, { ...o, shard: { rank: 0, size: 3 } }), /batch size 8 does not split over 3 ranks/);
  assert.throws(() => new DataLoader(ds, { ...o, dropLast: false, shard: { rank: 0, size: 2 } }), /needs dropLast/);
  assert.throws(() => new DataLoader(ds, { ...o, shard: { rank: 2, size: 2 } }), /rank 2 of 2/);
});
