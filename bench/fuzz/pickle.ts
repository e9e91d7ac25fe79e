// Pickle-aware mutations (torch.save's data.pkl, the legacy format's pickles,
// TorchScript's constants.pkl and data.pkl): the opcodes are scanned (an
// independent table of argument widths, protocols 0-5), then one is edited: an
// integer argument (tensor sizes, strides, offsets, storage sizes, memo indices)
// set to an edge value, a string (storage key, dtype, global name) replaced, a
// length prefix made to lie, an opcode swapped for another of the same width,
// or an opcode dropped or repeated (stack confusion). Bytes that do not scan
// fall back to byte-level edits.
import type { Pcg32 } from '../../src/data/random.js';
import { EDGE_INTS, concat, mutateBytes, pick, type Bytes } from './mutate.js';

interface Op {
  at: number;
  code: number;
  /** Bytes of the whole opcode with its argument. */
  size: number;
  /** Fixed-width integer argument (after the opcode byte): its width, signedness. */
  int?: { width: number; signed: boolean };
  /** Length-prefixed string or bytes: width of the length field. */
  str?: { lenWidth: number };
}

const NO_ARG = '}])(tu\x85\x86\x87saeRQ.N\x88\x89b\x93\x94012ld';
const INT_ARGS: Record<string, { width: number; signed: boolean }> = {
  K: { width: 1, signed: false },
  M: { width: 2, signed: false },
  J: { width: 4, signed: true },
  h: { width: 1, signed: false },
  j: { width: 4, signed: false },
  q: { width: 1, signed: false },
  r: { width: 4, signed: false },
  '\x80': { width: 1, signed: false },
  G: { width: 8, signed: false },
  '\x95': { width: 8, signed: false },
};
const LEN_ARGS: Record<string, number> = {
  X: 4,
  '\x8c': 1,
  '\x8d': 8,
  T: 4,
  U: 1,
  C: 1,
  B: 4,
  '\x8e': 8,
  '\x96': 8,
  '\x8a': 1,
  '\x8b': 4,
};
const LINE_ARGS = 'ILFSVPgp';

function readLen(b: Bytes, at: number, width: number): number {
  let v = 0;
  for (let k = width - 1; k >= 0; k--) v = v * 256 + (b[at + k] as number);
  return v;
}

/** The opcodes of the pickles from `start` (several in a row, as torch.save's legacy format writes); stops at the first that does not scan. */
export function scanPickles(b: Bytes, start = 0): { ops: Op[]; end: number } {
  const ops: Op[] = [];
  let at = start;
  while (at < b.length && b[at] === 0x80) {
    for (;;) {
      if (at >= b.length) return { ops, end: at };
      const code = b[at] as number;
      const c = String.fromCharCode(code);
      let size = 1;
      const op: Op = { at, code, size };
      if (INT_ARGS[c]) {
        op.int = INT_ARGS[c];
        size += INT_ARGS[c].width;
      } else if (LEN_ARGS[c] !== undefined) {
        op.str = { lenWidth: LEN_ARGS[c] };
        size += LEN_ARGS[c] + readLen(b, at + 1, LEN_ARGS[c]);
      } else if (c === 'c') {
        const first = b.indexOf(0x0a, at + 1);
        const second = first < 0 ? -1 : b.indexOf(0x0a, first + 1);
        if (second < 0) return { ops, end: at };
        size = second + 1 - at;
      } else if (LINE_ARGS.includes(c)) {
        const nl = b.indexOf(0x0a, at + 1);
        if (nl < 0) return { ops, end: at };
        size = nl + 1 - at;
      } else if (!NO_ARG.includes(c)) return { ops, end: at };
      op.size = size;
      if (at + size > b.length) return { ops, end: at };
      ops.push(op);
      at += size;
      if (code === 0x2e) break; // STOP: maybe another pickle follows
    }
  }
  return { ops, end: at };
}

const HOSTILE_STRINGS = [
  '',
  '0',
  '1',
  '99',
  '-1',
  '../0',
  'data.pkl',
  'FloatStorage',
  'LongStorage',
  'BoolStorage',
  'HalfStorage',
  'UntypedStorage',
  'storage',
  'cpu',
  'cuda:0',
  'torch',
  'collections',
  'OrderedDict',
  '_rebuild_tensor_v2',
  '_rebuild_parameter',
  'os',
  'system',
  '__torch__.torch.nn.modules.conv.Conv2d',
  '__main__',
  'forward',
  'x'.repeat(300),
];
const utf8 = new TextEncoder();

function writeInt(b: Bytes, at: number, width: number, value: number): void {
  let v = BigInt.asUintN(8 * width, BigInt(Math.trunc(value)));
  for (let k = 0; k < width; k++, v >>= 8n) b[at + k] = Number(v & 0xffn);
}

/** A string op re-encoded with a hostile value (same opcode: the length field follows the new content). */
function replaceString(rng: Pcg32, b: Bytes, op: Op): Bytes {
  const w = op.str!.lenWidth;
  const text = utf8.encode(pick(rng, HOSTILE_STRINGS).slice(0, w === 1 ? 255 : undefined));
  const head = new Uint8Array(1 + w);
  head[0] = op.code;
  writeInt(head, 1, w, text.length);
  return concat([b.subarray(0, op.at), head, text, b.subarray(op.at + op.size)]);
}

// Opcodes of the same width (no argument) that confuse the stack: tuple arities, containers, calls.
const SWAPS = [
  0x85, 0x86, 0x87, 0x74, 0x29, 0x5d, 0x7d, 0x28, 0x73, 0x75, 0x61, 0x65, 0x52, 0x51, 0x4e, 0x30, 0x32, 0x94, 0x2e, 0x62,
];

/** One pickle-aware edit of `src` (pickles from `start`); byte-level when nothing scans. */
export function mutatePickle(rng: Pcg32, bytes: Bytes, start = 0): Bytes {
  const src = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length); // NOTE: a Buffer's slice is a view, not a copy
  const { ops } = scanPickles(src, start);
  if (ops.length === 0 || rng.int(6) === 0) return mutateBytes(rng, src);
  const b = src.slice();
  // NOTE: mostly the values (sizes, strides, offsets, numel), less often memo indices and the protocol
  const values = ops.filter((o) => o.int !== undefined && 'KMJG'.includes(String.fromCharCode(o.code)));
  const ints = values.length > 0 && rng.int(4) !== 0 ? values : ops.filter((o) => o.int !== undefined);
  const strs = ops.filter((o) => o.str !== undefined);
  switch (rng.int(6)) {
    case 0:
    case 1: {
      if (ints.length === 0) return mutateBytes(rng, src);
      const op = pick(rng, ints);
      const { width, signed } = op.int!;
      const v = pick(rng, [...EDGE_INTS, -1, -2, -(2 ** 31), readLen(b, op.at + 1, width) + pick(rng, [1, -1, 2, 100])]);
      writeInt(b, op.at + 1, width, signed || v >= 0 ? v : v + 2 ** (8 * width));
      return b;
    }
    case 2:
      return strs.length === 0 ? mutateBytes(rng, src) : replaceString(rng, src, pick(rng, strs));
    case 3: {
      // a length prefix that lies (the content stays)
      if (strs.length === 0) return mutateBytes(rng, src);
      const op = pick(rng, strs);
      const w = op.str!.lenWidth;
      writeInt(b, op.at + 1, w, pick(rng, [0, 1, readLen(b, op.at + 1, w) + 1, 2 ** (8 * Math.min(w, 6)) - 1]));
      return b;
    }
    case 4: {
      const noArg = ops.filter((o) => o.size === 1);
      if (noArg.length === 0) return mutateBytes(rng, src);
      b[pick(rng, noArg).at] = pick(rng, SWAPS);
      return b;
    }
    default: {
      const op = pick(rng, ops);
      const piece = src.subarray(op.at, op.at + op.size);
      return rng.int(2) === 0
        ? concat([src.subarray(0, op.at), src.subarray(op.at + op.size)])
        : concat([src.subarray(0, op.at), piece, piece, src.subarray(op.at + op.size)]);
    }
  }
}
