// A minimal PNG encoder: 8-bit grayscale, RGB or RGBA, filter type 0 (None) on
// every scanline, one IDAT chunk. Enough for the report's small images, which
// are inlined as data URIs (PNG spec: https://www.w3.org/TR/png/).
import { deflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
/** PNG colour type per channel count. */
const COLOUR_TYPE = { 1: 0, 3: 2, 4: 6 } as const;

// NOTE: the CRC-32 of the PNG spec (polynomial 0xEDB88320, reflected); zlib.crc32
// would do but only exists from Node 20.15, and carso supports all of Node 20.
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** length, type, data, CRC of type + data. */
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** pixels: [height, width, channels] bytes, row-major and interleaved. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Buffer {
  if (pixels.length !== width * height * channels)
    throw new Error(`encodePng: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, COLOUR_TYPE[channels], 0, 0, 0], 8); // bit depth, colour type, compression, filter, interlace
  const row = width * channels;
  const scanlines = Buffer.alloc(height * (row + 1)); // each row: filter byte 0, then its bytes
  for (let y = 0; y < height; y++) scanlines.set(pixels.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', new Uint8Array()),
  ]);
}

/** An image [C, H, W] (C = 1 or 3, values in [0, 1], planar as a tensor flattens it) as a PNG data URI. */
export function imageDataUri(values: readonly number[], channels: 1 | 3, size: number): string {
  const plane = size * size;
  const bytes = new Uint8Array(plane * channels);
  for (let c = 0; c < channels; c++)
    for (let i = 0; i < plane; i++) bytes[i * channels + c] = Math.round(255 * values[c * plane + i]!);
  return `data:image/png;base64,${encodePng(bytes, size, size, channels).toString('base64')}`;
}
