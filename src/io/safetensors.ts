// The safetensors format (https://github.com/huggingface/safetensors), read and
// written here without dependencies:
//   [u64 little-endian N][N bytes of JSON header][data]
// header: {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}},
// offsets relative to the start of the data section, which the tensors tile
// exactly (no gaps, no overlap, nothing after). NOTE: tensor bytes are
// little-endian; like libtorch itself we assume a little-endian host.
import { dispose, op, tensor, tidy, type DType, type Tensor } from '../tensor/index.js';
import { readRegularFile, writeFileAtomic } from '../util/fs.js';
import { stateEntries, type StateDictInput } from '../nn/state-dict.js';

const CODES: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const DTYPES = new Map(Object.entries(CODES).map(([d, c]) => [c, d as DType]));
/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};
// NOTE: the reference implementation's cap; a larger "header" is a corrupt length field.
const MAX_HEADER = 100_000_000;
const viewAs = op('view', 'dtype');
// NOTE: our bound, far above any model's tensors: a long shape list is a corrupt header.
const MAX_DIMS = 64;

export type Metadata = Record<string, string>;
export interface SafetensorsContent {
  /** In file order (by data offset). The caller owns them. */
  tensors: Map<string, Tensor>;
  metadata: Metadata;
}
interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

/** Serialises tensors (any device; copied to CPU) and string metadata. */
export function encodeSafetensors(tensors: StateDictInput, metadata: Metadata = {}): Uint8Array[] {
  const header: Record<string, unknown> = Object.keys(metadata).length > 0 ? { __metadata__: metadata } : {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of stateEntries(tensors)) {
    if (name === '' || name === '__metadata__') throw new Error(`safetensors: invalid tensor name '${name}'`);
    const bytes = t.toBytes();
    header[name] = { dtype: CODES[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  const json = JSON.stringify(header);
  // NOTE: pad the header with spaces to 8 bytes, as the reference writer, so the data section is aligned.
  const text = Buffer.from(json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  return [len, text, ...blobs];
}

/** Writes a .safetensors file atomically (a temporary file renamed into place). */
export function writeSafetensors(path: string, tensors: StateDictInput, metadata: Metadata = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads a .safetensors file; throws an Error naming the file and the defect if it is truncated or corrupt. */
export function readSafetensors(path: string): SafetensorsContent {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path);
  } catch (err) {
    throw new Error(`safetensors: ${path}: cannot read (${(err as Error).message})`, { cause: err });
  }
  return decodeSafetensors(bytes, path);
}

/** Parses safetensors bytes; `source` names them in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = '<bytes>'): SafetensorsContent {
  const fail = (what: string): never => {
    throw new Error(`safetensors: ${source}: ${what}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const n = Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE();
  if (n > BigInt(bytes.length - 8) || n > MAX_HEADER)
    fail(
      `header length ${n} exceeds the ${bytes.length - 8} bytes after the length field (truncated, or not a safetensors file)`,
    );
  const data = bytes.subarray(8 + Number(n));
  const { entries, metadata } = parseHeader(bytes.subarray(8, 8 + Number(n)), fail);
  checkLayout(entries, data.length, fail);
  const tensors = new Map<string, Tensor>();
  for (const e of entries)
    try {
      tensors.set(e.name, tensorFromBytes(data.subarray(e.begin, e.end), e.dtype, e.shape));
    } catch (err) {
      dispose([...tensors.values()]);
      fail(`tensor '${e.name}': ${(err as Error).message}`);
    }
  return { tensors, metadata };
}

/** A new CPU tensor of `shape` holding a copy of little-endian `bytes` (exactly numel x element size of them). */
export function tensorFromBytes(bytes: Uint8Array, dtype: DType, shape: readonly number[]): Tensor {
  return tidy(() => viewAs.t(tensor(bytes, [bytes.length], 'uint8'), dtype).reshape(...shape));
}

function parseHeader(raw: Uint8Array, fail: (what: string) => never): { entries: Entry[]; metadata: Metadata } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (err) {
    fail(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isObject(header)) return fail('header is not a JSON object');
  const { __metadata__: meta = {}, ...rest } = header;
  if (!isObject(meta) || !Object.values(meta).every((v) => typeof v === 'string'))
    fail('__metadata__ is not an object of strings');
  const entries = Object.entries(rest).map(([name, info]) => parseEntry(name, info, fail));
  return { entries, metadata: meta as Metadata };
}

function parseEntry(name: string, info: unknown, fail: (what: string) => never): Entry {
  const where = `tensor '${name}'`;
  if (!isObject(info)) return fail(`${where}: entry is not an object`);
  const dtype = DTYPES.get(String(info['dtype']));
  if (dtype === undefined)
    fail(`${where}: unsupported dtype ${JSON.stringify(info['dtype'])} (valid: ${[...DTYPES.keys()].join(', ')})`);
  const { shape, data_offsets: offs } = info;
  if (!isIntArray(shape)) fail(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!isIntArray(offs) || offs.length !== 2 || offs[0]! > offs[1]!)
    fail(`${where}: data_offsets ${JSON.stringify(offs)} is not [begin, end] with begin <= end`);
  const [begin, end] = offs as [number, number];
  // NOTE: sizes beyond 2^53 bytes cannot be checked exactly in doubles, and no file holds them.
  const need = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype!];
  if (!Number.isSafeInteger(need) || (shape as number[]).length > MAX_DIMS)
    fail(`${where}: shape [${String(shape)}] is too large (more than 2^53 bytes or ${MAX_DIMS} dimensions)`);
  if (end - begin !== need)
    fail(
      `${where}: ${info['dtype']} [${String(shape)}] needs ${need} bytes, data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  return { name, dtype: dtype!, shape: shape as number[], begin, end };
}

/** The tensors must tile the data section exactly: sorted by offset, no gaps, no overlap, no trailing bytes. */
function checkLayout(entries: Entry[], dataLength: number, fail: (what: string) => never): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin !== at)
      fail(
        `tensor '${e.name}' begins at byte ${e.begin} of the data but the previous tensor ends at ${at} (${e.begin < at ? 'overlap' : 'gap'})`,
      );
    at = e.end;
  }
  if (at !== dataLength)
    fail(
      `data section is ${dataLength} bytes but the tensors need ${at} (${at > dataLength ? 'truncated file' : 'trailing bytes'})`,
    );
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIntArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
