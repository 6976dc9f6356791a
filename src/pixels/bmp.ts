/**
 * Windows BMP files, which sharp's libvips does not read: decoded here into RGBA (then handed to
 * sharp as raw pixels). Uncompressed 1-, 4-, 8-, 16-, 24- and 32-bit images, bottom-up or
 * top-down, with BI_BITFIELDS masks; run-length-encoded (RLE4/RLE8) and embedded JPEG/PNG BMPs
 * are refused with that reason.
 */
import type { RgbaImage } from './heif.js';

/** The RGBA pixels of a BMP file, upright. Throws with a one-line reason for a file it cannot read. */
export function decodeBmp(buf: Buffer, maxPixels: number): Omit<RgbaImage, 'thumbnail'> {
  if (buf.length < 26 || buf.toString('latin1', 0, 2) !== 'BM') throw new Error('not a BMP file (no BM signature)');
  const dataAt = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  let width: number;
  let height: number;
  let bpp: number;
  let compression = 0;
  let colours = 0;
  if (headerSize === 12) {
    width = buf.readUInt16LE(18);
    height = buf.readInt16LE(20);
    bpp = buf.readUInt16LE(24);
  } else if (headerSize >= 40 && buf.length >= 14 + 40) {
    width = buf.readInt32LE(18);
    height = buf.readInt32LE(22);
    bpp = buf.readUInt16LE(28);
    compression = buf.readUInt32LE(30);
    colours = buf.readUInt32LE(46);
  } else {
    throw new Error(`BMP with an unknown header (${headerSize} bytes)`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) throw new Error(`BMP of ${width}×${height} pixels`);
  if (width * height > maxPixels) throw new Error(`image declares ${width * height} pixels, more than the limit of ${maxPixels}`);
  if (compression === 1 || compression === 2) throw new Error('run-length-encoded (RLE) BMP is not supported');
  if (compression === 4 || compression === 5) throw new Error('BMP holding a JPEG or PNG is not supported');
  let masks: number[] | undefined;
  if (compression === 3 || compression === 6) {
    // The masks follow a 40-byte header, or are part of a V2–V5 header.
    const at = 14 + 40;
    masks = [buf.readUInt32LE(at), buf.readUInt32LE(at + 4), buf.readUInt32LE(at + 8), compression === 6 || headerSize >= 56 ? buf.readUInt32LE(at + 12) : 0];
  } else if (compression !== 0) {
    throw new Error(`BMP compression ${compression} is not supported`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`BMP of ${bpp} bits per pixel is not supported`);
  const palette: number[][] = [];
  if (bpp <= 8) {
    const entry = headerSize === 12 ? 3 : 4;
    const n = colours || 1 << bpp;
    for (let k = 0; k < n; k++) {
      const p = 14 + headerSize + k * entry;
      if (p + 3 > buf.length) break;
      palette.push([buf[p + 2]!, buf[p + 1]!, buf[p]!]);
    }
  }
  if (bpp === 16 && !masks) masks = [0x7c00, 0x03e0, 0x001f, 0];
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (dataAt + stride * height > buf.length) throw new Error(`BMP truncated: ${buf.length} bytes, its pixels need ${dataAt + stride * height}`);
  const channel = (mask: number): ((v: number) => number) => {
    if (!mask) return () => 255;
    let shift = 0;
    while (!((mask >>> shift) & 1)) shift++;
    const max = mask >>> shift;
    return (v) => Math.round((((v & mask) >>> shift) * 255) / max);
  };
  const [r, g, b, a] = (masks ?? []).map(channel);
  // A 32-bit BMP's alpha is used only when some pixel has any (most write 0 there).
  const rgba = new Uint8Array(width * height * 4);
  let anyAlpha = false;
  for (let y = 0; y < height; y++) {
    const row = dataAt + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      let px: number[];
      if (bpp <= 8) {
        const bit = x * bpp;
        const idx = (buf[row + (bit >> 3)]! >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        px = palette[idx] ?? [0, 0, 0];
        rgba[o + 3] = 255;
      } else if (bpp === 24) {
        const p = row + x * 3;
        px = [buf[p + 2]!, buf[p + 1]!, buf[p]!];
        rgba[o + 3] = 255;
      } else {
        const v = bpp === 16 ? buf.readUInt16LE(row + x * 2) : buf.readUInt32LE(row + x * 4);
        if (masks) {
          px = [r!(v), g!(v), b!(v)];
          rgba[o + 3] = masks[3] ? a!(v) : 255;
        } else {
          px = [(v >>> 16) & 255, (v >>> 8) & 255, v & 255];
          rgba[o + 3] = v >>> 24;
          if (v >>> 24) anyAlpha = true;
        }
      }
      rgba[o] = px[0]!;
      rgba[o + 1] = px[1]!;
      rgba[o + 2] = px[2]!;
    }
  }
  if (bpp === 32 && !masks && !anyAlpha) for (let k = 3; k < rgba.length; k += 4) rgba[k] = 255;
  return { width, height, rgba };
}
