// A read-only zip archive reader: enough for the archives torch.save and
// torch.jit.save write (PyTorchStreamWriter: every entry stored uncompressed,
// zip64 records once the file passes 4 GiB), with deflate accepted for archives
// repacked by other tools. Layout (APPNOTE.TXT):
//   [local header + data]* [central directory entry]* [zip64 end record, locator]? [end record]
// The central directory is authoritative: each of its entries gives the local
// header's offset, whose own name and extra lengths locate the data.
import { constants } from 'node:buffer';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the local header. */
  headerOffset: number;
}

const SIG = { local: 0x04034b50, central: 0x02014b50, end: 0x06054b50, end64: 0x06064b50, locator64: 0x07064b50 };
const MAX32 = 0xffffffff;

/** Whether the bytes start like a zip archive (a local file header). */
export const isZip = (bytes: Uint8Array): boolean =>
  bytes.length >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32LE(0) === SIG.local;

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly buf: Buffer;

  /** Parses the central directory of `bytes`; `source` names the file in errors. */
  constructor(
    bytes: Uint8Array,
    readonly source: string,
  ) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    try {
      const { count, offset } = this.directory();
      let at = offset;
      const folded = new Set<string>();
      for (let i = 0; i < count; i++) {
        const e = this.centralEntry(at);
        // NOTE: libtorch's miniz finds entries by case-insensitive name: two that fold together are
        // ambiguous (this reader and libtorch could read different ones), so refused.
        const key = e.entry.name.toLowerCase();
        if (folded.has(key)) this.fail(`two entries named '${e.entry.name}' (up to case)`);
        folded.add(key);
        this.entries.set(e.entry.name, e.entry);
        at = e.next;
      }
    } catch (err) {
      // NOTE: a field pointing past the end surfaces as Buffer's RangeError: name the file instead
      if (err instanceof RangeError) this.fail(`corrupt central directory (${err.message})`);
      throw err;
    }
  }

  /** The entry's bytes (a view for stored entries, inflated for deflated ones). */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (e === undefined) return this.fail(`no entry '${name}'`);
    const b = this.buf;
    if (e.headerOffset + 30 > b.length || b.readUInt32LE(e.headerOffset) !== SIG.local)
      this.fail(`entry '${name}': no local header at byte ${e.headerOffset}`);
    const start = e.headerOffset + 30 + b.readUInt16LE(e.headerOffset + 26) + b.readUInt16LE(e.headerOffset + 28);
    if (start + e.compressedSize > b.length)
      this.fail(`entry '${name}': ${e.compressedSize} bytes at ${start} run past the end of the file (truncated?)`);
    const data = b.subarray(start, start + e.compressedSize);
    if (e.method === 0 && e.size !== e.compressedSize)
      this.fail(`entry '${name}': stored, but its size (${e.size}) and stored size (${e.compressedSize}) differ`);
    if (e.method === 0) return data;
    if (e.method !== 8) this.fail(`entry '${name}': unsupported compression method ${e.method} (stored or deflate)`);
    let out: Buffer;
    try {
      // NOTE: bounded by the size the directory gives, so that a lying size cannot make a zip bomb
      out = inflateRawSync(data, { maxOutputLength: Math.max(1, Math.min(e.size, constants.MAX_LENGTH)) });
    } catch (err) {
      const big = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      return this.fail(
        `entry '${name}': ${big ? `inflates past the ${e.size} bytes the directory says` : `corrupt deflate data (${(err as Error).message})`}`,
      );
    }
    if (out.length !== e.size) this.fail(`entry '${name}': inflates to ${out.length} bytes, the directory says ${e.size}`);
    return out;
  }

  private fail(what: string): never {
    throw new Error(`zip: ${this.source}: ${what}`);
  }

  /** The central directory's entry count and offset, from the end record (zip64 when the fields overflow). */
  private directory(): { count: number; offset: number } {
    const b = this.buf;
    // NOTE: the end record (22 bytes) is followed by a comment of at most 65535 bytes.
    let end = -1;
    for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--)
      if (b.readUInt32LE(i) === SIG.end) {
        end = i;
        break;
      }
    if (end < 0) this.fail('no end-of-central-directory record (truncated, or not a zip archive)');
    let count = b.readUInt16LE(end + 10);
    let offset = b.readUInt32LE(end + 16);
    if (count === 0xffff || offset === MAX32) {
      const loc = end - 20;
      if (loc < 0 || b.readUInt32LE(loc) !== SIG.locator64) this.fail('zip64 fields without a zip64 locator');
      const rec = this.u64(loc + 8);
      if (rec + 56 > b.length || b.readUInt32LE(rec) !== SIG.end64) this.fail(`no zip64 end record at byte ${rec}`);
      count = this.u64(rec + 32);
      offset = this.u64(rec + 48);
    }
    if (offset > b.length) this.fail(`central directory offset ${offset} is past the end of the file (${b.length} bytes)`);
    return { count, offset };
  }

  private centralEntry(at: number): { entry: ZipEntry; next: number } {
    const b = this.buf;
    if (at + 46 > b.length || b.readUInt32LE(at) !== SIG.central) this.fail(`corrupt central directory at byte ${at}`);
    const nameLen = b.readUInt16LE(at + 28);
    const extraLen = b.readUInt16LE(at + 30);
    const next = at + 46 + nameLen + extraLen + b.readUInt16LE(at + 32);
    if (next > b.length) this.fail(`central directory entry at byte ${at} runs past the end of the file`);
    const entry: ZipEntry = {
      name: b.toString('utf8', at + 46, at + 46 + nameLen),
      method: b.readUInt16LE(at + 10),
      compressedSize: b.readUInt32LE(at + 20),
      size: b.readUInt32LE(at + 24),
      headerOffset: b.readUInt32LE(at + 42),
    };
    this.zip64Extra(entry, at + 46 + nameLen, extraLen);
    return { entry, next };
  }

  /** The zip64 extra field (id 1) holds, in this order, whichever of size, compressed size, offset overflowed. */
  private zip64Extra(e: ZipEntry, at: number, len: number): void {
    const b = this.buf;
    for (let p = at; p + 4 <= at + len; p += 4 + b.readUInt16LE(p + 2)) {
      if (b.readUInt16LE(p) !== 1) continue;
      let q = p + 4;
      for (const key of ['size', 'compressedSize', 'headerOffset'] as const)
        if (e[key] === MAX32) {
          e[key] = this.u64(q);
          q += 8;
        }
    }
  }

  private u64(at: number): number {
    const v = this.buf.readBigUInt64LE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`64-bit field ${v} at byte ${at} is out of range`);
    return Number(v);
  }
}
