// Mutations of valid files, byte-level (for every format) and JSON-level (for
// safetensors headers and the JSON inside their metadata). Everything draws
// from one seeded Pcg32, so input i of a format is reproducible from the seed.
import { Pcg32 } from '../../src/data/random.js';

export type Bytes = Uint8Array;

/** A random integer in [lo, hi]. */
export function between(rng: Pcg32, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

export function pick<T>(rng: Pcg32, xs: readonly T[]): T {
  return xs[rng.int(xs.length)] as T;
}

/** Integers that break size arithmetic: zero, one, sign and width boundaries. */
export const EDGE_INTS = [
  0,
  1,
  2,
  3,
  7,
  8,
  255,
  256,
  0x7fff,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xffffffff,
  2 ** 32,
  2 ** 53,
  2 ** 63,
  2 ** 64,
];

/** Writes the low `width` bytes of `value` at `at` (little- or big-endian; wraps modulo 2^(8 width)). */
function writeUint(b: Bytes, at: number, width: number, value: number, little: boolean): void {
  let v = BigInt.asUintN(8 * width, BigInt(Math.trunc(value)));
  for (let k = 0; k < width; k++) {
    const i = little ? at + k : at + width - 1 - k;
    if (i >= 0 && i < b.length) b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** One random byte-level change: truncation, bit flips, overwrites, inserts, deletes, repeats, edge integers. */
export function mutateBytes(rng: Pcg32, bytes: Bytes): Bytes {
  const src = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length); // NOTE: Buffer's slice and fill differ
  const n = src.length;
  const at = n === 0 ? 0 : rng.int(n);
  const len = 1 + rng.int(Math.max(1, Math.min(64, n)));
  switch (rng.int(9)) {
    case 0: // truncate, often near the end
      return src.slice(0, rng.int(2) === 0 ? rng.int(n + 1) : Math.max(0, n - 1 - rng.int(16)));
    case 1: {
      const b = src.slice();
      for (let k = between(rng, 1, 8); k > 0 && n > 0; k--) {
        const i = rng.int(n);
        b[i] = (b[i] as number) ^ (1 << rng.int(8));
      }
      return b;
    }
    case 2: {
      const b = src.slice();
      const v = pick(rng, [0x00, 0xff, 0x7f, 0x80, rng.int(256)]);
      b.fill(v, at, at + len);
      return b;
    }
    case 3: {
      const ins = Uint8Array.from({ length: len }, () => rng.int(256));
      return concat([src.subarray(0, at), ins, src.subarray(at)]);
    }
    case 4:
      return concat([src.subarray(0, at), src.subarray(at + len)]);
    case 5: // repeat a chunk (overlapping data, duplicated records or markers)
      return concat([src.subarray(0, at + len), src.subarray(at, at + len), src.subarray(at + len)]);
    case 6: {
      const b = src.slice();
      writeUint(b, rng.int(Math.min(n, 64) + 1), pick(rng, [1, 2, 4, 8]), pick(rng, EDGE_INTS) - rng.int(2), rng.int(2) === 0);
      return b;
    }
    case 7: {
      const b = src.slice();
      writeUint(b, at, pick(rng, [2, 4, 8]), pick(rng, EDGE_INTS) - rng.int(2), rng.int(2) === 0);
      return b;
    }
    default: // extend with junk
      return concat([src, Uint8Array.from({ length: len }, () => rng.int(256))]);
  }
}

export function concat(parts: readonly Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Values a hostile JSON header may hold where a number, string or list is expected. */
function hostileValue(rng: Pcg32): unknown {
  return pick(rng, [
    0,
    -1,
    1.5,
    -0.5,
    1e12,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 64,
    1e308,
    -1e308,
    '',
    'x',
    '1',
    'F32',
    'BF16',
    '__proto__',
    'x'.repeat(1000),
    null,
    true,
    false,
    [],
    {},
    [1e12],
    [2 ** 31, 2 ** 31],
    [-1],
    [0, 1e15],
    [1e6, 1e6, 1e6],
    [0, 0],
    [5, 2],
    [-8, 8],
    { a: 1 },
    Array.from({ length: 40 }, () => 1),
  ]);
}

/** Every [container, key] in a JSON tree (not the root), depth first. */
function slots(v: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i]), slots(x, out)));
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) {
      out.push([v as Record<string, unknown>, k]);
      slots(x, out);
    }
  return out;
}

/**
 * One random edit of a parsed JSON value (in place where possible; returns the
 * new root): replace a node by a hostile value, nudge or scale a number, delete
 * or duplicate an entry, swap two siblings, or edit JSON nested in a string.
 */
export function mutateJson(rng: Pcg32, root: unknown): unknown {
  const all = slots(root);
  if (all.length === 0) return hostileValue(rng);
  const [c, k] = pick(rng, all);
  const set = (v: unknown): void => void ((c as Record<string | number, unknown>)[k] = v);
  const cur = (c as Record<string | number, unknown>)[k];
  switch (rng.int(7)) {
    case 0:
    case 1:
      set(hostileValue(rng));
      break;
    case 2:
      if (typeof cur === 'number') set(pick(rng, [cur + 1, cur - 1, cur * 2, -cur, cur * 1e6, cur + 2 ** 32, cur / 3]));
      else set(hostileValue(rng));
      break;
    case 3:
      if (Array.isArray(c)) c.splice(k as number, 1);
      else delete (c as Record<string, unknown>)[k as string];
      break;
    case 4:
      if (Array.isArray(c)) c.splice(k as number, 0, structuredClone(cur));
      else (c as Record<string, unknown>)[`${String(k)}_${rng.int(3)}`] = structuredClone(cur);
      break;
    case 5: {
      const [c2, k2] = pick(rng, all);
      const other = (c2 as Record<string | number, unknown>)[k2];
      if (other !== c && cur !== c2) {
        set(structuredClone(other));
        (c2 as Record<string | number, unknown>)[k2] = structuredClone(cur);
      }
      break;
    }
    default:
      if (typeof cur === 'string' && /^[[{]/.test(cur)) {
        try {
          set(JSON.stringify(mutateJson(rng, JSON.parse(cur) as unknown)));
        } catch {
          set(`${cur.slice(0, rng.int(cur.length + 1))}`); // truncated JSON text
        }
      } else set(hostileValue(rng));
  }
  return root;
}
