// Loads the Node-API addon (native/carso.cc) and types its surface.
// Everything here is mechanism; src/tensor/tensor.ts is the policy layer.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque native tensor handle (a Napi::External owning one at::Tensor). */
export type Handle = { readonly __brand: 'carso.Handle' };

/** What `call` accepts per argument; converted natively by the operator's schema. */
export type NativeArg =
  | Handle
  | number
  | bigint
  | boolean
  | string
  | null
  | undefined
  | readonly number[]
  | readonly boolean[]
  | readonly (Handle | null)[];

export type NativeResult = Handle | number | boolean | null | undefined | NativeResult[];

export interface NativeBinding {
  opId(name: string, overload: string): number;
  opSchema(id: number): string;
  call(id: number, args: NativeArg[]): NativeResult;
  fromArray(data: ArrayBufferView, shape: readonly number[], dtype: string, device?: string): Handle;
  toArray(h: Handle): ArrayBuffer;
  shape(h: Handle): number[];
  dtype(h: Handle): string;
  device(h: Handle): string;
  free(h: Handle): void;
  isFreed(h: Handle): boolean;
  setRequiresGrad(h: Handle, on: boolean): void;
  requiresGrad(h: Handle): boolean;
  gradOf(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  grad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: Handle[] | null,
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  backward(outputs: Handle[], gradOutputs: Handle[] | null, retainGraph: boolean): void;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  manualSeed(seed: number): void;
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  // native/threads.cc
  setBlasThreads(n: number): boolean;
  blasInfo(): { threads: number; config: string | null; corename: string | null } | null;
  setInteropThreads(n: number): boolean;
  getInteropThreads(): number;
  cudaDeviceCount(): number;
  setAllocatorCache(capBytes: number): void;
  stats(): {
    liveTensors: number;
    externalBytes: number;
    torchVersion: string;
    cachedBytes: number;
    cacheCapBytes: number;
    cacheHits: number;
    cacheMisses: number;
  };
  // native/dist.cc: c10d process groups (src/dist/ is the policy layer); a group is an integer id.
  distInit(o: {
    backend: string;
    host: string;
    port: number;
    isServer: boolean;
    rank: number;
    size: number;
    timeoutMs: number;
    prefix: string;
    glooInterface?: string;
    glooHostname?: string;
  }): number;
  distAllReduce(group: number, t: Handle, op: 'sum' | 'max' | 'min'): void;
  distAllReduceDiff(group: number, t: Handle): Handle;
  distBroadcast(group: number, t: Handle, root: number): void;
  distAllGather(group: number, t: Handle): Handle;
  distBarrier(group: number): void;
  distDestroy(group: number): void;
  distBackends(): string[];
}

function findAddon(): string {
  // src/tensor/native.ts and dist/tensor/native.js both sit two levels below the root.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const candidates = [process.env['CARSO_ADDON'], join(root, 'build', 'Release', 'carso.node')];
  for (const c of candidates) if (c !== undefined && existsSync(c)) return c;
  throw new Error(`carso: native addon not found (looked for ${candidates.filter(Boolean).join(', ')}). Run 'make build' first.`);
}

export const native: NativeBinding = createRequire(import.meta.url)(findAddon()) as NativeBinding;
