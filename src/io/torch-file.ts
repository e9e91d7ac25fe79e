// torch.save files (.pt, .pth) read as data, never as code (see pickle.ts):
//  - the zip format (PyTorch >= 1.6): <archive>/data.pkl is the pickled object,
//    whose tensors name their storages by key; storage k is the raw little-endian
//    record <archive>/data/k;
//  - the legacy format: five pickles in a row (magic number, protocol 1001, system
//    info, the object, the storage keys), then each storage as an int64 element
//    count and its bytes.
// A tensor is pickled as torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, ...); here it becomes a TensorRef, materialised on request, so that a
// checkpoint's optimiser state is never allocated when only its weights are wanted.
//
//     const sd = readTorchStateDict('resnet.pt'); // Map name -> Tensor (the caller owns them)
import { readFileSync } from 'node:fs';
import { op, tidy, type DType, type Tensor } from '../tensor/index.js';
import { unpickle, PickleGlobal, type PickleFunction, type UnpickleOptions } from './pickle.js';
import { DTYPE_BYTES, tensorFromBytes } from './safetensors.js';
import { ZipArchive } from './zip.js';

const STORAGES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
/** Where a state dict may sit in a checkpoint (training scripts' habits), tried in this order. */
export const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net'] as const;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const asStrided = op('as_strided');

class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    /** Elements, as the persistent id says (null when it says nothing usable). */
    readonly numel: number | null,
  ) {}
}

/** A tensor in a torch.save file, not yet read: storage key, dtype, offset, size, stride (in elements). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
  get dtype(): DType {
    return this.storage.dtype;
  }
  /** Storage elements it reaches: its last element's index + 1, or 0 when it has none. */
  get reach(): number {
    if (this.size.some((s) => s === 0)) return 0;
    return this.size.reduce((acc, s, i) => acc + (s - 1) * this.stride[i]!, this.offset) + 1;
  }
}

export interface TorchFile {
  /** The unpickled object: Maps (dict, OrderedDict), arrays (list, tuple), numbers, strings, null and TensorRefs. */
  root: unknown;
  /** New CPU tensors for `refs` (each storage read once); the caller owns them. */
  materialize(refs: readonly TensorRef[]): Tensor[];
}

const isInts = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);

/** The allowed globals: the tensor rebuilders, OrderedDict and the storage types, as plain-data functions. */
const GLOBALS = new Map<string, PickleFunction>([
  ['collections.OrderedDict', (args) => new Map((args[0] ?? []) as [unknown, unknown][])],
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_tensor', rebuildTensor],
  ['torch._utils._rebuild_parameter', (args) => args[0]],
  ['torch._utils._rebuild_parameter_with_state', (args) => args[0]],
  ...Object.keys(STORAGES).map((name): [string, PickleFunction] => [
    `torch.${name}`,
    () => {
      throw new Error('a storage type is not callable');
    },
  ]),
]);

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef) || !Number.isSafeInteger(offset) || !isInts(size) || !isInts(stride))
    throw new Error('expects (storage, offset, size, stride)');
  if (size.length !== stride.length)
    throw new Error(`size [${size.join(', ')}] and stride [${stride.join(', ')}] differ in length`);
  return new TensorRef(storage, offset as number, size, stride);
}

/** The persistent id of a storage: ('storage', torch.<T>Storage, key, location, numel[, view_metadata]). */
function storageOf(pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || !(pid[1] instanceof PickleGlobal) || typeof pid[2] !== 'string')
    throw new Error('not a storage reference');
  if (pid.length > 5 && pid[5] !== null) throw new Error('storage views (PyTorch < 0.4 files) are not supported');
  const dtype = STORAGES[pid[1].name.replace(/^torch\./, '')];
  if (dtype === undefined) throw new Error(`unsupported storage type ${pid[1].name}`);
  const numel = Number.isSafeInteger(pid[4]) && (pid[4] as number) >= 0 ? (pid[4] as number) : null;
  return new StorageRef(pid[2], dtype, numel);
}

/**
 * How torch.save's pickles are read: the allowed globals, storages recorded into `dtypes`
 * (key -> dtype), each tensor also passed to `onTensor` when given.
 */
export function torchUnpickleOptions(
  source: string,
  dtypes = new Map<string, DType>(),
  onTensor?: (r: TensorRef) => void,
): UnpickleOptions {
  const persistentLoad = (pid: unknown): StorageRef => {
    const s = storageOf(pid);
    dtypes.set(s.key, s.dtype);
    return s;
  };
  const globals =
    onTensor === undefined
      ? GLOBALS
      : new Map(
          [...GLOBALS].map(([name, fn]): [string, PickleFunction] => [
            name,
            fn === rebuildTensor ? (args) => tap(rebuildTensor(args), onTensor) : fn,
          ]),
        );
  return { globals, persistentLoad, source };
}

const tap = <T>(v: T, f: (v: T) => void): T => (f(v), v);

/** Reads a torch.save file (`bytes`: its content when already read). */
export function readTorchFile(path: string, bytes: Uint8Array = readFileSync(path)): TorchFile {
  const dtypes = new Map<string, DType>();
  const o = torchUnpickleOptions(path, dtypes);
  let root: unknown;
  let record: (key: string) => Uint8Array;
  if (bytes[0] === 0x80) ({ root, record } = readLegacy(bytes, o, dtypes));
  else {
    const zip = new ZipArchive(bytes, path);
    const prefix = [...zip.entries.keys()][0]?.split('/')[0] ?? '';
    if (!zip.entries.has(`${prefix}/data.pkl`))
      throw new Error(`${path}: a zip archive without ${prefix}/data.pkl: not a torch.save file`);
    const order = zip.entries.has(`${prefix}/byteorder`) ? Buffer.from(zip.read(`${prefix}/byteorder`)).toString() : 'little';
    if (order !== 'little') throw new Error(`${path}: tensors stored ${order}-endian; only little-endian files are read`);
    root = unpickle(zip.read(`${prefix}/data.pkl`), o).value;
    record = (key) => zip.read(`${prefix}/data/${key}`);
  }
  return { root, materialize: (refs) => materialize(path, refs, record) };
}

/** The legacy format: the pickles in a row, then each storage as [int64 element count][bytes]. */
function readLegacy(
  bytes: Uint8Array,
  o: UnpickleOptions,
  dtypes: ReadonlyMap<string, DType>,
): { root: unknown; record: (key: string) => Uint8Array } {
  const source = o.source;
  const next = (at: number) => unpickle(bytes, o, at);
  const magic = next(0);
  if (magic.value !== LEGACY_MAGIC) throw new Error(`${source}: a pickle, but not a torch.save file (no magic number)`);
  const protocol = next(magic.end);
  if (protocol.value !== 1001) throw new Error(`${source}: unsupported legacy protocol ${String(protocol.value)}`);
  const info = next(protocol.end);
  if (!(info.value instanceof Map) || info.value.get('little_endian') !== true)
    throw new Error(`${source}: written on a big-endian machine (or no system info); only little-endian files are read`);
  const main = next(info.end);
  const keys = next(main.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string'))
    throw new Error(`${source}: the storage key list is not a list of strings`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  let at = keys.end;
  for (const key of keys.value as string[]) {
    const dtype = dtypes.get(key);
    if (dtype === undefined) throw new Error(`${source}: storage '${key}' is listed but no tensor uses it`);
    if (at + 8 > buf.length) throw new Error(`${source}: truncated before storage '${key}'`);
    const n = buf.readBigInt64LE(at) * BigInt(DTYPE_BYTES[dtype]);
    if (n < 0n || BigInt(at + 8) + n > BigInt(buf.length))
      throw new Error(`${source}: storage '${key}' runs past the end of the file (truncated?)`);
    storages.set(key, bytes.subarray(at + 8, at + 8 + Number(n)));
    at += 8 + Number(n);
  }
  const record = (key: string): Uint8Array => {
    const s = storages.get(key);
    if (s === undefined) throw new Error(`${source}: no storage '${key}'`);
    return s;
  };
  return { root: main.value, record };
}

function materialize(source: string, refs: readonly TensorRef[], record: (key: string) => Uint8Array): Tensor[] {
  return tidy(() => {
    const storages = new Map<string, Tensor>();
    return refs.map((r) => {
      let st = storages.get(r.storage.key);
      if (st === undefined) {
        const bytes = record(r.storage.key);
        const width = DTYPE_BYTES[r.dtype];
        st = tensorFromBytes(bytes.subarray(0, bytes.length - (bytes.length % width)), r.dtype, [
          Math.floor(bytes.length / width),
        ]);
        storages.set(r.storage.key, st);
      }
      return view(source, r, st);
    });
  });
}

/** The tensor `r` describes inside its storage `st`: [n], bounds checked; a copy unless it is the whole storage. */
function view(source: string, r: TensorRef, st: Tensor): Tensor {
  const n = st.numel;
  const numel = r.size.reduce((a, b) => a * b, 1);
  checkReach(source, r, n);
  // NOTE: overlapping strides (stride 0: an expanded tensor) would be copied into more memory than the
  // storage takes, without bound (a size of 2^31 over one stored float): refused instead.
  if (numel > n)
    throw new Error(
      `${source}: tensor [${r.size.join(', ')}] (offset ${r.offset}, stride [${r.stride.join(', ')}]) has ${numel} elements, but storage '${r.storage.key}' holds ${n}: tensors with overlapping strides (expanded) are not read; save them with .contiguous()`,
    );
  if (r.offset === 0 && numel === n && contiguous(r.size, r.stride)) return st.reshape(...r.size);
  const v = asStrided.t(st, r.size, r.stride, r.offset);
  return contiguous(r.size, r.stride) ? v.clone() : v.contiguous();
}

/** Throws, naming `source`, unless tensor `r` lies within the first `n` elements of its storage. */
export function checkReach(source: string, r: TensorRef, n: number): void {
  if (r.reach > n)
    throw new Error(
      `${source}: tensor [${r.size.join(', ')}] (offset ${r.offset}, stride [${r.stride.join(', ')}]) reaches element ${r.reach - 1} of storage '${r.storage.key}', which holds ${n} (truncated or corrupt file)`,
    );
}

function contiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expected) return false;
    expected *= size[i]!;
  }
  return true;
}

const isStateDict = (v: unknown): v is Map<string, TensorRef> =>
  v instanceof Map && v.size > 0 && [...v].every(([k, t]) => typeof k === 'string' && t instanceof TensorRef);

/**
 * The state dict in a torch.save object: the object itself when it is a dict of
 * tensors, else the first of STATE_DICT_KEYS holding one (searched up to three
 * levels down). DataParallel's 'module.' prefix is dropped when every key has it.
 */
export function findStateDict(root: unknown, source: string): Map<string, TensorRef> {
  const search = (v: unknown, depth: number): Map<string, TensorRef> | null => {
    if (isStateDict(v)) return v;
    if (!(v instanceof Map) || depth === 3) return null;
    for (const k of STATE_DICT_KEYS) {
      const found = search(v.get(k), depth + 1);
      if (found !== null) return found;
    }
    return null;
  };
  const sd = search(root, 0);
  if (sd === null) {
    const keys = root instanceof Map ? `its keys: ${[...root.keys()].map(String).join(', ')}` : `it holds ${describe(root)}`;
    throw new Error(
      `${source}: no state dict (a dict of tensors by name, possibly under ${STATE_DICT_KEYS.map((k) => `'${k}'`).join(', ')}); ${keys}`,
    );
  }
  const prefixed = [...sd.keys()].every((k) => k.startsWith('module.'));
  return prefixed ? new Map([...sd].map(([k, t]) => [k.slice('module.'.length), t])) : sd;
}

const describe = (v: unknown): string => (v === null ? 'None' : Array.isArray(v) ? 'a list' : typeof v);

/** The state dict of a torch.save file as new tensors (the caller owns them), in file order. */
export function readTorchStateDict(path: string, bytes?: Uint8Array): Map<string, Tensor> {
  const file = readTorchFile(path, bytes);
  const sd = findStateDict(file.root, path);
  const tensors = file.materialize([...sd.values()]);
  return new Map([...sd.keys()].map((k, i) => [k, tensors[i]!]));
}
