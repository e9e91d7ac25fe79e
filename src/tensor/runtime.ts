// Process-wide runtime settings: RNG, threads, devices.
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

/** Intra-op threads libtorch uses (benchmarks pin this to 1). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
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
