// Loads the Node-API addon (native/*.cc) and types its surface.
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

/** An opaque TorchScript module handle (native/jit.cc: a type-tagged Napi::External owning a torch::jit::Module). */
export type ScriptHandle = { readonly __brand: 'carso.ScriptHandle' };
/** What a TorchScript method takes and returns: converted natively by the method's schema. */
export type ScriptNative = Handle | number | boolean | string | null | readonly ScriptNative[];

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
  /** The CPUs this process may run on (Linux), or null where unknown. */
  cpuAffinity(): number[] | null;
  /** Every thread of this process onto `cpus`; returns how many threads were set. */
  setCpuAffinity(cpus: readonly number[]): number;
  cudaDeviceCount(): number;
  setAllocatorCache(capBytes: number): void;
  jitLoad(path: string, device: string | null): ScriptHandle;
  jitFree(h: ScriptHandle): void;
  /** [name, schema] of every method. */
  jitMethods(h: ScriptHandle): [string, string][];
  jitCall(h: ScriptHandle, method: string, args: readonly ScriptNative[], optimize: boolean): ScriptNative;
  /** [dotted name, handle on the module's own tensor] */
  jitTensors(h: ScriptHandle, kind: 'parameters' | 'buffers'): [string, Handle][];
  jitTrain(h: ScriptHandle, on: boolean): void;
  jitIsTraining(h: ScriptHandle): boolean;
  jitTo(h: ScriptHandle, device: string): void;
  /** target's TensorImpl takes source's data (dtype, device): every holder of target sees it. */
  setData(target: Handle, source: Handle): void;
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
  // src/tensor/native.ts (a checkout) and dist/tensor/native.js (a checkout's build, or the
  // installed package, whose install step compiled the addon with node-gyp) both sit two
  // levels below the package root, where build/ is.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const candidates = [
    process.env['CARSO_ADDON'],
    join(root, 'build', 'Release', 'carso.node'),
    join(root, 'build', 'Debug', 'carso.node'),
  ];
  for (const c of candidates) if (c !== undefined && existsSync(c)) return c;
  throw new Error(
    `carso: native addon not found (looked for ${candidates.filter(Boolean).join(', ')}). ` +
      "In a checkout run 'make build'; in a project that installed carso, 'npm rebuild carso' compiles it (needs libtorch-dev).",
  );
}

export const native: NativeBinding = createRequire(import.meta.url)(findAddon()) as NativeBinding;
