// Zip-aware mutations for torch.save and torch.jit.save archives: an entry's
// content edited (pickles by mutatePickle, tensor records cut or padded, code
// and version text) and the archive rewritten with correct CRCs and offsets, so
// that the edit reaches the reader behind the zip layer; entries dropped,
// duplicated, renamed or deflated (sometimes with a lying size); or the zip
// structure itself edited in place (central directory, end record, local
// headers: sizes, offsets, name lengths, counts, zip64 fields).
import { deflateRawSync } from 'node:zlib';
import type { Pcg32 } from '../../src/data/random.js';
import { crc32 } from '../../src/eval/report/png.js';
import { ZipArchive } from '../../src/io/zip.js';
import { EDGE_INTS, concat, mutateBytes, pick, type Bytes } from './mutate.js';
import { mutatePickle } from './pickle.js';

export interface Member {
  name: string;
  data: Bytes;
  /** Deflate it; `size` overrides the uncompressed size written (a lie). */
  deflate?: boolean;
  size?: number;
}

const utf8 = new TextEncoder();

/** The members of an archive in directory order, or null when it does not parse. */
export function members(bytes: Bytes): Member[] | null {
  try {
    const z = new ZipArchive(bytes, 'seed');
    return [...z.entries.keys()].map((name) => ({ name, data: new Uint8Array(z.read(name)) })); // copies: a Buffer's slice is a view
  } catch {
    return null;
  }
}

function le(width: number, value: number): Bytes {
  const b = new Uint8Array(width);
  let v = BigInt.asUintN(8 * width, BigInt(value));
  for (let k = 0; k < width; k++, v >>= 8n) b[k] = Number(v & 0xffn);
  return b;
}

/** A zip archive of `ms` (stored unless deflated), with a zip64 end record and locator when `zip64`. */
export function writeZip(ms: readonly Member[], zip64 = false): Bytes {
  const locals: Bytes[] = [];
  const centrals: Bytes[] = [];
  let at = 0;
  for (const m of ms) {
    const name = utf8.encode(m.name);
    const body = m.deflate ? new Uint8Array(deflateRawSync(m.data)) : m.data;
    // method, time, date, crc, compressed size, size, name length, extra length
    const fields = concat([
      le(2, m.deflate ? 8 : 0),
      le(4, 0),
      le(4, crc32(m.data)),
      le(4, body.length),
      le(4, m.size ?? m.data.length),
    ]);
    const local = concat([le(4, 0x04034b50), le(2, 20), le(2, 0), fields, le(2, name.length), le(2, 0), name]);
    centrals.push(
      concat([
        le(4, 0x02014b50),
        le(2, 20),
        le(2, 20),
        le(2, 0),
        fields,
        le(2, name.length),
        le(2, 0),
        le(2, 0),
        le(8, 0),
        le(4, at),
        name,
      ]),
    );
    locals.push(local, body);
    at += local.length + body.length;
  }
  const cd = concat(centrals);
  const end64 = zip64
    ? concat([
        le(4, 0x06064b50),
        le(8, 44),
        le(4, 0x2d002d),
        le(8, 0),
        le(8, ms.length),
        le(8, ms.length),
        le(8, cd.length),
        le(8, at),
        le(4, 0x07064b50),
        le(4, 0),
        le(8, at + cd.length),
        le(4, 1),
      ])
    : new Uint8Array(0);
  const count = zip64 ? 0xffff : ms.length;
  const end = concat([
    le(4, 0x06054b50),
    le(4, 0),
    le(2, count),
    le(2, count),
    le(4, cd.length),
    le(4, zip64 ? 0xffffffff : at),
    le(2, 0),
  ]);
  return concat([...locals, cd, end64, end]);
}

const VERSIONS = ['', '0', '1', '3', '10', '99', '-1', '3\n', 'x', '18446744073709551616'];

/** An edit of one member's content, by what the member is. */
function mutateContent(rng: Pcg32, m: Member): Member {
  const b = m.data;
  if (m.name.endsWith('.pkl')) return { ...m, data: mutatePickle(rng, b) };
  if (m.name.endsWith('/version') || m.name.endsWith('/.data/version')) return { ...m, data: utf8.encode(pick(rng, VERSIONS)) };
  if (/\/data\/\d+$/.test(m.name) && rng.int(2) === 0) {
    // a tensor record shorter or longer than its tensors need
    const n = pick(rng, [0, 1, b.length >> 1, Math.max(0, b.length - 1), b.length + 1, b.length * 2]);
    const out = new Uint8Array(n);
    out.set(b.subarray(0, Math.min(n, b.length)));
    return { ...m, data: out };
  }
  return { ...m, data: mutateBytes(rng, b) };
}

/** A change of the member list: drop, duplicate, rename, reorder, or deflate one (maybe with a lying size). */
function mutateMembers(rng: Pcg32, ms: Member[]): Member[] {
  const out = ms.slice();
  const i = rng.int(out.length);
  const m = out[i]!;
  switch (rng.int(5)) {
    case 0:
      out.splice(i, 1);
      break;
    case 1:
      out.splice(rng.int(out.length + 1), 0, rng.int(2) === 0 ? m : { ...m, data: mutateBytes(rng, m.data) });
      break;
    case 2: {
      const prefix = m.name.split('/')[0]!;
      const renamed = pick(rng, [
        m.name.replace(`${prefix}/`, 'other/'),
        `../${m.name}`,
        `/${m.name}`,
        `${prefix}/`,
        `${m.name}/x`,
        m.name.replace(/\/data\/(\d+)$/, '/data/99'),
        m.name.replace(/\/data\.pkl$/, '/constants.pkl'),
        '',
      ]);
      out[i] = { ...m, name: renamed };
      break;
    }
    case 3:
      out.splice(i, 1);
      out.splice(rng.int(out.length + 1), 0, m);
      break;
    default:
      out[i] = {
        ...m,
        deflate: true,
        size: rng.int(3) === 0 ? pick(rng, [0, 1, m.data.length >> 1, m.data.length + 1]) : undefined,
      };
  }
  return out;
}

// Offsets of the fields worth lying about, and their widths.
const CENTRAL_FIELDS: [number, number][] = [
  [10, 2],
  [16, 4],
  [20, 4],
  [24, 4],
  [28, 2],
  [30, 2],
  [32, 2],
  [42, 4],
];
const LOCAL_FIELDS: [number, number][] = [
  [8, 2],
  [14, 4],
  [18, 4],
  [22, 4],
  [26, 2],
  [28, 2],
];
const END_FIELDS: [number, number][] = [
  [8, 2],
  [10, 2],
  [12, 4],
  [16, 4],
  [20, 2],
];
const END64_FIELDS: [number, number][] = [
  [4, 8],
  [24, 8],
  [32, 8],
  [40, 8],
  [48, 8],
];

function signatures(b: Bytes, sig: number): number[] {
  const out: number[] = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i + 4 <= b.length; i++) if (view.getUint32(i, true) === sig) out.push(i);
  return out;
}

/** A field of a zip record (found by signature) set to an edge value or nudged. */
function mutateField(rng: Pcg32, src: Bytes): Bytes {
  const [sig, fields] = pick(rng, [
    [0x02014b50, CENTRAL_FIELDS],
    [0x02014b50, CENTRAL_FIELDS],
    [0x04034b50, LOCAL_FIELDS],
    [0x06054b50, END_FIELDS],
    [0x06064b50, END64_FIELDS],
    [0x07064b50, [[8, 8] as [number, number]]],
  ] as [number, [number, number][]][]);
  const at = signatures(src, sig);
  if (at.length === 0) return mutateBytes(rng, src);
  const [off, width] = pick(rng, fields);
  const p = pick(rng, at) + off;
  const b = src.slice();
  const old = readField(b, p, width);
  const v = pick(rng, [...EDGE_INTS, old + 1, old - 1, old + 30, old * 2, 0]);
  b.set(le(width, v).subarray(0, Math.max(0, Math.min(width, b.length - p))), p);
  return b;
}

function readField(b: Bytes, at: number, width: number): number {
  let v = 0;
  for (let k = width - 1; k >= 0; k--) v = v * 256 + (b[at + k] ?? 0);
  return v;
}

/** One zip-aware edit of an archive (byte-level when it no longer parses). */
export function mutateZip(rng: Pcg32, src: Bytes): Bytes {
  const ms = members(src);
  if (ms === null || ms.length === 0 || rng.int(6) === 0) return mutateBytes(rng, src);
  switch (rng.int(8)) {
    case 0:
    case 1:
    case 2: {
      // content edits favour the pickles: they describe everything else
      const pkls = ms.map((m, i) => [m, i] as const).filter(([m]) => m.name.endsWith('.pkl'));
      const i = pkls.length > 0 && rng.int(3) !== 0 ? pick(rng, pkls)[1] : rng.int(ms.length);
      const out = ms.slice();
      out[i] = mutateContent(rng, ms[i]!);
      return writeZip(out, rng.int(8) === 0);
    }
    case 3:
      return writeZip(mutateMembers(rng, ms), rng.int(8) === 0);
    case 4:
      return mutateField(rng, rng.int(3) === 0 ? writeZip(ms, true) : src);
    default:
      return mutateField(rng, src);
  }
}
