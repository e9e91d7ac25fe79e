// JPEG decoding to CHW uint8 with jpeg-js (pure JS, baseline and progressive).
// jpeg-js writes 3 interleaved channels even for 1-component (grayscale)
// files, Y copied to R, G and B, so every image comes out [3, H, W].
import jpeg from 'jpeg-js';
import { DataFileError } from './errors.js';

/**
 * Decodes `bytes` (read from `file`, named in errors) into `out` at `offset`
 * as [3, H, W] uint8; the image must be `h` x `w`.
 */
export function decodeJpegInto(bytes: Uint8Array, file: string, h: number, w: number, out: Uint8Array, offset: number): void {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    // NOTE: the frame header's size is checked before anything is allocated (maxResolutionInMP), so a
    // few bytes claiming a 65535x65535 image cost nothing; the memory cap covers the tables and scans.
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: (h * w + 0.5) / 1e6,
      maxMemoryUsageInMB: 4,
    });
  } catch (err) {
    throw new DataFileError(file, `cannot decode JPEG (${(err as Error).message})`);
  }
  if (img.width !== w || img.height !== h)
    throw new DataFileError(file, `image is ${img.width}x${img.height}, expected ${w}x${h}`);
  if (img.data.length !== 3 * h * w)
    throw new DataFileError(file, `decoded ${img.data.length} bytes, expected ${3 * h * w} (3 channels)`);
  // HWC -> CHW
  const plane = h * w;
  const src = img.data;
  for (let p = 0; p < plane; p++) {
    out[offset + p] = src[3 * p] as number;
    out[offset + plane + p] = src[3 * p + 1] as number;
    out[offset + 2 * plane + p] = src[3 * p + 2] as number;
  }
}
