// Process-wide runtime settings: RNG, threads, devices, the CPU block cache.
import { totalmem } from 'node:os';
import { native } from './native.js';
import type { Device } from './tensor.js';

/** Seeds libtorch's default generators (CPU and, when present, CUDA). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`manualSeed: seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

/** The full state of the default CPU generator (for resumable checkpoints). */
export function getRngState(): Uint8Array {
  return native.rngState();
}

export function setRngState(state: Uint8Array): void {
  native.setRngState(state);
}

/**
 * Threads: one count governs every compute pool in the process, libtorch's
 * intra-op pool and OpenBLAS's own (which libtorch's set_num_threads leaves at
 * one thread per core: beside one busy process on a 2-core machine those threads
 * spin and yield, and a CARSO gradient step ran 16 times slower). The count is 1
 * unless the program asks for more (`--threads`, setNumThreads), applied when this
 * module loads, before any compute.
 * NOTE: OPENBLAS_NUM_THREADS and OMP_NUM_THREADS are not consulted: they only size
 * the pools the libraries create as they load, and carso then sets both to its own
 * count, so no environment variable is needed and none set for other programs
 * changes carso. libtorch's inter-op pool is sized to 1 at load (libtorch allows
 * one setting per process, before any inter-op work); carso launches no inter-op
 * work (autograd on CPU and every operator it calls run on the calling thread and
 * the intra-op pool), so that pool never starts.
 */
export function setNumThreads(n: number): void {
  native.setNumThreads(n); // validates n (an integer >= 1)
  native.setBlasThreads(n); // false for a BLAS other than OpenBLAS: nothing to govern
}

/** The intra-op thread count (what setNumThreads set). */
export function getNumThreads(): number {
  return native.getNumThreads();
}

export interface ThreadPools {
  /** libtorch's intra-op threads. */
  intraOp: number;
  /** libtorch's inter-op threads. */
  interOp: number;
  /** OpenBLAS's threads; null for another BLAS (its pool is not governed by carso). */
  blas: number | null;
  /** The BLAS in use: OpenBLAS's build string and core, or 'unknown (not OpenBLAS)'. */
  blasName: string;
}

export function threadPools(): ThreadPools {
  const b = native.blasInfo();
  return {
    intraOp: native.getNumThreads(),
    interOp: native.getInteropThreads(),
    blas: b?.threads ?? null,
    blasName: b === null ? 'unknown (not OpenBLAS)' : `${b.config ?? 'OpenBLAS'} (core ${b.corename ?? 'unknown'})`,
  };
}

export function cudaAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}

/** 'cuda' when a CUDA libtorch and a GPU are present, else 'cpu'; `requested` = 'auto' | a device string. */
export function resolveDevice(requested: string = 'auto'): Device {
  if (requested === 'auto') return cudaAvailable() ? 'cuda' : 'cpu';
  if (requested.startsWith('cuda') && !cudaAvailable())
    throw new Error(
      `device '${requested}' requested but this libtorch has no CUDA device (build with LIBTORCH=<a CUDA libtorch>)`,
    );
  if (requested !== 'cpu' && !requested.startsWith('cuda'))
    throw new Error(`unknown device '${requested}' (valid: auto, cpu, cuda, cuda:N)`);
  return requested;
}

export function torchVersion(): string {
  return native.stats().torchVersion;
}

/**
 * Bound, in bytes, of the native CPU block cache (native/carso.cc): freed blocks
 * of 64 KiB and more are kept for the next request of the same size instead of
 * going back to the kernel, which would fault them in again on the next step.
 * 0 turns the cache off. The default is a quarter of the machine's memory, at
 * most 4 GiB; `CARSO_CPU_CACHE_MB` overrides it.
 */
export function setAllocatorCache(bytes: number): void {
  native.setAllocatorCache(bytes); // the addon rejects a negative or non-finite bound
}

export interface AllocatorStats {
  /** Bytes held in the cache now (freed blocks waiting for reuse). */
  cachedBytes: number;
  capBytes: number;
  /** Block requests served from the cache / from the system since start. */
  hits: number;
  misses: number;
}

export function allocatorStats(): AllocatorStats {
  const s = native.stats();
  return { cachedBytes: s.cachedBytes, capBytes: s.cacheCapBytes, hits: s.cacheHits, misses: s.cacheMisses };
}

export function defaultAllocatorCache(env: NodeJS.ProcessEnv = process.env): number {
  const mb = env['CARSO_CPU_CACHE_MB'];
  if (mb !== undefined && mb !== '') {
    const v = Number(mb);
    if (!Number.isFinite(v) || v < 0) throw new Error(`CARSO_CPU_CACHE_MB must be a number of MiB >= 0, got '${mb}'`);
    return v * 2 ** 20;
  }
  return Math.min(totalmem() / 4, 4 * 2 ** 30);
}

setAllocatorCache(defaultAllocatorCache());
// false when another copy of this module (src/ beside dist/) set it first
native.setInteropThreads(1);
setNumThreads(1);
