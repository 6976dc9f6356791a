/** Compare: the distance between two image files, without a database. */
import { wordsFor } from '../hash/bits.js';
import type { HashSettings } from '../hash/settings.js';
import { selfViewsPerFile, viewPenaltyOf, viewsPerFile } from '../hash/views.js';
import { coarseCutBits, withinCut } from '../index/cut.js';
import { distancesToQuery, pictureDistance } from '../index/views.js';
import { fingerprintNamedFile } from '../pixels/fingerprint.js';

export interface Comparison {
  bits: number;
  nbits: number;
  distance: number;
  /** Whether clustering at `threshold` would join the two (the distance is within it, and with coarse fingerprints, so is theirs). */
  same: boolean;
}

/**
 * The distance between two image files under `settings` (the minimum over views, if any, as
 * clustering measures it), and whether clustering at the cut `threshold` (a fraction of the
 * bits) would join them. Throws an ImgcmpError naming the file that cannot be read or decoded.
 */
export async function runCompare(a: string, b: string, settings: HashSettings, threshold: number): Promise<Comparison> {
  const [ra, rb] = await Promise.all([fingerprintNamedFile(a, settings), fingerprintNamedFile(b, settings)]);
  const nbits = settings.x * settings.x;
  const words = wordsFor(nbits);
  const upright = { count: 2, nbits, words, data: Uint32Array.from([...ra.bits, ...rb.bits]) };
  const k = viewsPerFile(settings);
  const self = selfViewsPerFile(settings);
  const penalty = viewPenaltyOf(settings);
  const views = k > 1 ? { count: 2 * k, nbits, words, data: Uint32Array.from([...ra.views!, ...rb.views!]) } : undefined;
  const bits = pictureDistance(upright, views, k, self, penalty)(0, 1);
  let same = withinCut(bits, nbits, threshold);
  if (same && rb.coarse) {
    // Clustering proposes pairs on the coarse fingerprints first: the verdict follows it there too.
    const coarseBits = settings.coarseX! * settings.coarseX!;
    const coarse = { count: k, nbits: coarseBits, words: wordsFor(coarseBits), data: rb.coarse };
    const stored = { upright: { count: 1, nbits, words, data: rb.bits }, views: views && { count: k, nbits, words, data: rb.views! }, coarse, perFile: k, selfViews: self, viewPenalty: penalty };
    same = distancesToQuery(stored, { upright: ra.bits, views: ra.views, coarse: ra.coarse }, Infinity, Math.floor(coarseCutBits(threshold, coarseBits))).length > 0;
  }
  return { bits, nbits, distance: bits / nbits, same };
}
