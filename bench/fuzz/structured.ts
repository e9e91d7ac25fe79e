// Format-aware mutations: the safetensors header (its JSON, the JSON inside
// its metadata, the length field), IDX headers, JPEG segment fields, and the
// text files of data set folders. Each falls back to byte-level mutation when
// its input does not parse (a mutation of a mutation may not).
import type { Pcg32 } from '../../src/data/random.js';
import { EDGE_INTS, concat, mutateBytes, mutateJson, pick, type Bytes } from './mutate.js';

const text = new TextDecoder();
const utf8 = new TextEncoder();

/** Splits safetensors bytes into header JSON and data; null when the length field or JSON is unusable. */
function splitSafetensors(b: Bytes): { header: Record<string, unknown>; data: Bytes } | null {
  if (b.length < 8) return null;
  const n = Number(Buffer.from(b.buffer, b.byteOffset, 8).readBigUInt64LE());
  if (n > b.length - 8) return null;
  try {
    const header = JSON.parse(text.decode(b.subarray(8, 8 + n))) as unknown;
    return typeof header === 'object' && header !== null
      ? { header: header as Record<string, unknown>, data: b.subarray(8 + n) }
      : null;
  } catch {
    return null;
  }
}

function joinSafetensors(header: unknown, data: Bytes, length?: bigint): Bytes {
  const json = utf8.encode(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(length ?? BigInt(json.length));
  return concat([len, json, data]);
}

/** Whether `text` is JSON (an earlier mutation may have broken it). */
function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The metadata entries whose values are JSON texts (run state, purifier geometry, optimiser). */
function jsonMetadata(header: Record<string, unknown>): [Record<string, unknown>, string][] {
  const meta = header['__metadata__'];
  if (typeof meta !== 'object' || meta === null) return [];
  return Object.entries(meta)
    .filter(([, v]) => typeof v === 'string' && /^[[{]/.test(v) && parses(v))
    .map(([k]) => [meta as Record<string, unknown>, k]);
}

/**
 * A safetensors mutation: the header's JSON (shapes, dtypes, offsets, names), the
 * JSON inside the metadata, the length field, or the data section.
 */
export function mutateSafetensors(rng: Pcg32, src: Bytes): Bytes {
  const parts = splitSafetensors(src);
  if (parts === null || rng.int(5) === 0) return mutateBytes(rng, src);
  const { header, data } = parts;
  switch (rng.int(6)) {
    case 0: {
      const inner = jsonMetadata(header);
      if (inner.length > 0) {
        const [meta, k] = pick(rng, inner);
        let v = JSON.parse(meta[k] as string) as unknown;
        for (let r = 1 + rng.int(3); r > 0; r--) v = mutateJson(rng, v);
        meta[k] = JSON.stringify(v);
        return joinSafetensors(header, data);
      }
      return joinSafetensors(mutateJson(rng, header), data);
    }
    case 1: // the length field: off by a little, or absurd
      return joinSafetensors(header, data, BigInt.asUintN(64, BigInt(pick(rng, [...EDGE_INTS, -1, -8])) + BigInt(rng.int(3))));
    case 2: {
      // overlapping, negative or swapped offsets in one entry
      const names = Object.keys(header).filter((k) => k !== '__metadata__');
      const e = header[pick(rng, names.length > 0 ? names : ['x'])] as Record<string, unknown> | undefined;
      const offs = e?.['data_offsets'];
      if (e !== undefined && Array.isArray(offs) && offs.length === 2) {
        const [a, b] = offs as [number, number];
        e['data_offsets'] = pick(rng, [
          [b, a],
          [a - 4, b - 4],
          [a - 1, b],
          [0, b - a],
          [a, b + 8],
          [-a - 1, b],
          [a, a],
          [a + 2 ** 53, b + 2 ** 53],
        ]);
      }
      return joinSafetensors(header, data);
    }
    case 3: // the data section shorter or longer than the header says
      return joinSafetensors(header, data.subarray(0, Math.max(0, data.length - 1 - rng.int(64))));
    default: {
      let h: unknown = header;
      for (let r = 1 + rng.int(3); r > 0; r--) h = mutateJson(rng, h);
      return joinSafetensors(h, data);
    }
  }
}

/** An IDX header edit (magic, type, dims count, one dim) on uncompressed bytes. */
export function mutateIdx(rng: Pcg32, src: Bytes): Bytes {
  if (src.length < 8 || rng.int(3) === 0) return mutateBytes(rng, src);
  const b = src.slice();
  const view = new DataView(b.buffer);
  const dims = Math.min(b[3] as number, Math.floor((b.length - 4) / 4));
  switch (rng.int(4)) {
    case 0:
      b[rng.int(4)] = pick(rng, [0, 1, 3, 8, 9, 0x0d, 0xff, rng.int(256)]);
      break;
    case 1:
      if (dims > 0) view.setUint32(4 + 4 * rng.int(dims), pick(rng, EDGE_INTS) >>> 0);
      break;
    case 2:
      if (dims > 0) view.setUint32(4 + 4 * rng.int(dims), view.getUint32(4) + pick(rng, [-1, 1, 2, -2]));
      break;
    default:
      return b.subarray(0, 4 + 4 * rng.int(dims + 1)); // header only, or cut inside it
  }
  return b;
}

/** Offsets of the JPEG marker segments (0xFF, type, 16-bit length) before the scan data. */
function jpegSegments(b: Bytes): { at: number; type: number }[] {
  const out: { at: number; type: number }[] = [];
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const type = b[i + 1] as number;
    out.push({ at: i, type });
    if (type === 0xda) break; // start of scan: entropy-coded data follows
    i += 2 + (((b[i + 2] as number) << 8) | (b[i + 3] as number));
  }
  return out;
}

/** A JPEG edit: frame size and components (SOF), a segment's length, or a table byte; else bytes. */
export function mutateJpeg(rng: Pcg32, src: Bytes): Bytes {
  const segs = jpegSegments(src);
  if (segs.length === 0 || rng.int(3) === 0) return mutateBytes(rng, src);
  const b = src.slice();
  const sof = segs.find((s) => s.type === 0xc0 || s.type === 0xc2);
  const size16 = (at: number, v: number): void => void ((b[at] = (v >> 8) & 0xff), (b[at + 1] = v & 0xff));
  switch (rng.int(4)) {
    case 0:
      if (sof) size16(sof.at + 5 + 2 * rng.int(2), pick(rng, [0, 1, 63, 65, 128, 4096, 0x7fff, 0xffff])); // height or width
      break;
    case 1:
      if (sof) b[sof.at + 9] = pick(rng, [0, 1, 2, 4, 255]); // number of components
      break;
    case 2: {
      const s = pick(rng, segs);
      size16(s.at + 2, pick(rng, [0, 1, 2, 3, 0xffff, ((b[s.at + 2]! << 8) | b[s.at + 3]!) + pick(rng, [-1, 1, 64])]));
      break;
    }
    default: {
      const s = pick(rng, segs);
      b[Math.min(b.length - 1, s.at + 4 + rng.int(16))] = rng.int(256); // a table / component byte
    }
  }
  return b;
}

/** A text edit of a line-based file: duplicate, drop, blank or replace a line, or odd line endings. */
export function mutateLines(rng: Pcg32, src: Bytes, hostile: readonly string[]): Bytes {
  const lines = text.decode(src).split('\n');
  const i = rng.int(lines.length);
  switch (rng.int(6)) {
    case 0:
      lines.splice(i, 0, lines[i] ?? '');
      break;
    case 1:
      lines.splice(i, 1);
      break;
    case 2:
      lines[i] = pick(rng, ['', ' ', '\t', '\r', 'x'.repeat(10000)]);
      break;
    case 3: {
      const fields = (lines[i] ?? '').split('\t');
      fields[rng.int(fields.length)] = pick(rng, hostile);
      lines[i] = fields.join('\t');
      break;
    }
    case 4:
      return utf8.encode(lines.join('\r\n'));
    default:
      return mutateBytes(rng, src);
  }
  return utf8.encode(lines.join('\n'));
}
