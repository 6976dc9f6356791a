/** Compare: the distance between two image files, without a database. */
import { wordsFor } from '../hash/bits.js';
import type { HashSettings } from '../hash/settings.js';
import { viewsPerFile } from '../hash/views.js';
import { withinCut } from '../index/cut.js';
import { pictureDistance } from '../index/views.js';
import { fingerprintNamedFile } from '../pixels/fingerprint.js';

export interface Comparison {
  bits: number;
  nbits: number;
  distance: number;
  /** Whether the distance is within the threshold. */
  same: boolean;
}

/**
 * The distance between two image files under `settings` (the minimum over views, if any), and
 * whether it is within `threshold` (a fraction of the bits). Throws an ImgcmpError naming the file
 * that cannot be read or decoded.
 */
export async function runCompare(a: string, b: string, settings: HashSettings, threshold: number): Promise<Comparison> {
  const [ra, rb] = await Promise.all([fingerprintNamedFile(a, settings), fingerprintNamedFile(b, settings)]);
  const nbits = settings.x * settings.x;
  const words = wordsFor(nbits);
  const upright = { count: 2, nbits, words, data: Uint32Array.from([...ra.bits, ...rb.bits]) };
  const k = viewsPerFile(settings);
  const views = k > 1 ? { count: 2 * k, nbits, words, data: Uint32Array.from([...ra.views!, ...rb.views!]) } : undefined;
  const bits = pictureDistance(upright, views, k)(0, 1);
  return { bits, nbits, distance: bits / nbits, same: withinCut(bits, nbits, threshold) };
}
