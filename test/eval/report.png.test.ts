// The report's PNG encoder against hand-worked bytes: the chunk layout of a
// 2x2 RGB image, the CRC-32 check values of the spec, and the scanlines that
// inflating its IDAT gives back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { crc32, encodePng, imageDataUri } from '../../src/eval/report/png.js';

const ascii = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** The chunks of a PNG file: type, data, and whether the stored CRC is right. */
function chunks(png: Buffer): { type: string; data: Buffer; crc: number }[] {
  const out = [];
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at);
    out.push({
      type: png.toString('latin1', at + 4, at + 8),
      data: png.subarray(at + 8, at + 8 + length),
      crc: png.readUInt32BE(at + 8 + length),
    });
    at += 12 + length;
  }
  return out;
}

test('CRC-32: the check value of the standard and the IEND chunk every PNG ends with', () => {
  assert.equal(crc32(ascii('123456789')), 0xcbf43926);
  assert.equal(crc32(ascii('IEND')), 0xae426082);
  const zlibCrc = (zlib as { crc32?: (b: Uint8Array) => number }).crc32; // Node >= 20.15
  if (zlibCrc) assert.equal(crc32(ascii('carso report')), zlibCrc(ascii('carso report')));
});

test('a 2x2 RGB image: signature, IHDR and IEND bytes, and its scanlines', () => {
  // red green / blue white
  const pixels = Uint8Array.of(255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255);
  const png = encodePng(pixels, 2, 2, 3);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // length 13, 'IHDR', width 2, height 2, depth 8, colour type 2 (RGB), deflate, filter set 0, no interlace
  assert.deepEqual([...png.subarray(8, 29)], [0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0]);
  assert.deepEqual([...png.subarray(-12)], [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  const cs = chunks(png);
  assert.deepEqual(
    cs.map((c) => c.type),
    ['IHDR', 'IDAT', 'IEND'],
  );
  for (const c of cs) assert.equal(c.crc, crc32(Buffer.concat([ascii(c.type), c.data])), `${c.type} CRC`);
  // each scanline: filter type 0, then R G B R G B
  assert.deepEqual([...zlib.inflateSync(cs[1]!.data)], [0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]);
});

test('a [C, H, W] image in [0, 1] becomes interleaved bytes: grey (colour type 0) and RGB', () => {
  const decode = (uri: string) => {
    const png = Buffer.from(uri.replace(/^data:image\/png;base64,/, ''), 'base64');
    const cs = chunks(png);
    return { colourType: cs[0]!.data[9], scanlines: [...zlib.inflateSync(cs[1]!.data)] };
  };
  assert.deepEqual(decode(imageDataUri([0, 1, 0.5, 0.2], 1, 2)), { colourType: 0, scanlines: [0, 0, 255, 0, 128, 51] });
  // planar: R plane, G plane, B plane, 2x2 each
  const rgb = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
  assert.deepEqual(decode(imageDataUri(rgb, 3, 2)), {
    colourType: 2,
    scanlines: [0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 0],
  });
  assert.throws(() => encodePng(new Uint8Array(5), 2, 2, 1), /5 bytes for 2x2x1/);
});
