/** Shared test pictures: EXIF-turned copies and test vectors of the hash methods. */
import type { Sharp } from 'sharp';
import { bitString, packRows, type PackedFingerprints } from '../../src/hash/bits.js';

/** Hexadecimal form of one fingerprint, bit 0 as the most significant bit (imagehash's convention). */
function bitHex(fps: PackedFingerprints, row: number): string {
  const s = bitString(fps, row).padEnd(Math.ceil(fps.nbits / 4) * 4, '0');
  let hex = '';
  for (let i = 0; i < s.length; i += 4) hex += parseInt(s.slice(i, i + 4), 2).toString(16);
  return hex;
}
import { METHODS, methodNamed } from '../../src/hash/methods.js';
import { greyThumbnail } from '../../src/pixels/decode.js';
import type { JpegDecoderName } from '../../src/pixels/recipe.js';

/**
 * For each EXIF orientation o (1–8), the sharp transform of upright pixels that a file tagged o
 * stores: showing the stored pixels turned by o gives the upright picture back.
 */
export const STORED_FOR_ORIENTATION: Record<number, (s: Sharp) => Sharp> = {
  1: (s) => s,
  2: (s) => s.flop(),
  3: (s) => s.rotate(180),
  4: (s) => s.flip(),
  5: (s) => s.rotate(270).flop(),
  6: (s) => s.rotate(270),
  7: (s) => s.rotate(90).flop(),
  8: (s) => s.rotate(90),
};

/** Every hash method's x = 8 bits of `file` by `decoder`'s recipe, as hex (first bit most significant). */
export async function methodVectors(file: string, decoder: JpegDecoderName): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const method of METHODS.keys()) {
    const m = methodNamed(method);
    out[method] = bitHex(packRows(m.bits(await greyThumbnail(file, m.side(8), decoder), 8), 1, 64), 0);
  }
  return out;
}
