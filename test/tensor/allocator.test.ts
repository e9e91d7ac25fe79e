// The native CPU block cache (native/carso.cc, policy in src/tensor/runtime.ts):
// freed large blocks are reused instead of going back to the kernel, the bound
// holds, results do not depend on it, and a steady loop stops faulting pages in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  allocatorStats,
  defaultAllocatorCache,
  grad,
  manualSeed,
  op,
  randn,
  setAllocatorCache,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../../src/tensor/index.js';

const MiB = 2 ** 20;

/** A conv layer's forward and input gradient: allocates blocks of many sizes. */
function convStep(seed: number): number[] {
  return tidy(() => {
    manualSeed(seed);
    const x = randn([8, 3, 32, 32]).requiresGrad_();
    const w = randn([16, 3, 3, 3]);
    const y = op('conv2d').t(x, w, null, [1, 1], [1, 1], [1, 1], 1);
    const [g] = grad(y.relu().pow(2).sum(), [x]);
    return [y.sum().item(), (g as Tensor).abs().sum().item()];
  });
}

test('the default bound is a quarter of memory up to 4 GiB; CARSO_CPU_CACHE_MB overrides it', () => {
  const d = defaultAllocatorCache({});
  assert.ok(d > 0 && d <= 4 * 2 ** 30);
  assert.equal(defaultAllocatorCache({ CARSO_CPU_CACHE_MB: '100' }), 100 * MiB);
  assert.equal(defaultAllocatorCache({ CARSO_CPU_CACHE_MB: '0' }), 0);
  assert.throws(() => defaultAllocatorCache({ CARSO_CPU_CACHE_MB: 'lots' }), /CARSO_CPU_CACHE_MB/);
  assert.throws(() => setAllocatorCache(-1), /finite number of bytes/);
  assert.throws(() => setAllocatorCache(Number.NaN), /finite number of bytes/);
});

test('a freed block is handed out again for a same-size request; small blocks are not cached', () => {
  const before = setCap(256 * MiB);
  try {
    tidy(() => void zeros([1024, 1024])); // 4 MiB, freed at the end of the scope
    const s0 = allocatorStats();
    assert.ok(s0.cachedBytes >= 4 * MiB, `cached ${s0.cachedBytes}`);
    tidy(() => void zeros([1024, 1024]));
    const s1 = allocatorStats();
    assert.equal(s1.hits, s0.hits + 1);
    assert.equal(s1.misses, s0.misses);
    tidy(() => void zeros([16])); // 64 bytes: below the cached size, plain malloc/free
    assert.deepEqual(allocatorStats(), s1);
    tidy(() => void zeros([0, 5])); // an empty tensor allocates nothing
    assert.deepEqual(allocatorStats(), s1);
  } finally {
    setAllocatorCache(before);
  }
});

test('the bound holds: exceeding it releases the cache, 0 empties it and stops caching', () => {
  const before = setCap(10 * MiB);
  try {
    tidy(() => void [zeros([1024, 1024]), zeros([1024, 1024]), zeros([1024, 1024])]); // 3 x 4 MiB freed together
    assert.ok(allocatorStats().cachedBytes <= 10 * MiB);
    assert.ok(allocatorStats().cachedBytes >= 4 * MiB);
    setAllocatorCache(0);
    assert.equal(allocatorStats().cachedBytes, 0);
    const s = allocatorStats();
    tidy(() => void zeros([1024, 1024]));
    tidy(() => void zeros([1024, 1024]));
    assert.equal(allocatorStats().hits, s.hits, 'no reuse with the cache off');
    assert.equal(allocatorStats().cachedBytes, 0);
  } finally {
    setAllocatorCache(before);
  }
});

test('results are the same with and without the cache, reused blocks carry no stale data into zeros()', () => {
  const before = setCap(0);
  try {
    const off = [convStep(1), convStep(2)];
    setAllocatorCache(256 * MiB);
    const on = [convStep(1), convStep(2), convStep(1)];
    assert.deepEqual(on.slice(0, 2), off);
    assert.deepEqual(on[2], off[0]);
    // A block full of ones, freed, then requested again by zeros().
    tidy(() => void op('ones').t([1024, 1024], null, null, null, null));
    const hits = allocatorStats().hits;
    tidy(() => {
      const z = zeros([1024, 1024]);
      assert.equal(allocatorStats().hits, hits + 1);
      assert.equal(z.abs().sum().item(), 0);
    });
  } finally {
    setAllocatorCache(before);
  }
});

test('a steady loop of 64 MiB blocks faults pages in without the cache and not with it', () => {
  // 64 MiB is above glibc's largest mmap threshold: without the cache every free
  // is an munmap and every new tensor faults its 16k pages in again.
  const faultsPerStep = (): number => {
    const step = (): void => tidy(() => void op('ones').t([16, 1024, 1024], null, null, null, null).sum().item());
    step();
    const f0 = process.resourceUsage().minorPageFault;
    for (let i = 0; i < 5; i++) step();
    return (process.resourceUsage().minorPageFault - f0) / 5;
  };
  const before = setCap(0);
  try {
    const off = faultsPerStep();
    setAllocatorCache(256 * MiB);
    const on = faultsPerStep();
    assert.ok(off > 8000, `without the cache: ${off} faults per step`);
    assert.ok(on < 500, `with the cache: ${on} faults per step`);
  } finally {
    setAllocatorCache(before);
  }
});

test('tensors freed after the bound drops to 0 are released, not cached', () => {
  const before = setCap(256 * MiB);
  try {
    const kept = tensor(new Array(300_000).fill(1), [300_000]); // 1.2 MB, outlives the change
    setAllocatorCache(0);
    kept.dispose();
    assert.equal(allocatorStats().cachedBytes, 0);
  } finally {
    setAllocatorCache(before);
  }
});

/** Sets the bound and returns the previous one. */
function setCap(bytes: number): number {
  const prev = allocatorStats().capBytes;
  setAllocatorCache(bytes);
  return prev;
}
