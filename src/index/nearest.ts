/**
 * Nearest fingerprints of a query in a database: the k closest rows, nearest first, optionally
 * only those within a distance. Pure computation over packed fingerprints.
 *
 * A multi-index hash of the database answers "every row within R bits" without looking at rows
 * one by one; R is chosen so that the index is cheap (a quarter of the bits at most). When fewer
 * than k rows lie within R — a query with no near copy — the answer needs the farther rows too,
 * and every row is looked at: the result is exact either way.
 */
import { hamming, type PackedFingerprints } from '../hash/bits.js';
import { bestChunking, buildIndex, searchWithin, type MihIndex } from './mih.js';

export interface Neighbour {
  row: number;
  /** Distance in bits (with orientations: the smallest over the query's orientations). */
  bits: number;
}

export interface NearestIndex {
  fps: PackedFingerprints;
  mih: MihIndex;
  radius: number;
}

/** Builds the index once; it serves any number of queries. */
export function nearestIndex(fps: PackedFingerprints, radius = Math.floor(fps.nbits / 4)): NearestIndex {
  const { m } = bestChunking(fps.count, fps.nbits, radius);
  return { fps, mih: buildIndex(fps, Math.max(1, m), radius), radius };
}

/**
 * The k nearest rows to a query given as one or more packed fingerprints (its orientations: the
 * distance to a row is the smallest over them), within cutBits if given; ties by row order.
 */
export function nearest(index: NearestIndex, queries: readonly Uint32Array[], k: number, cutBits = Infinity): Neighbour[] {
  const { fps } = index;
  const best = new Map<number, number>();
  const limit = Math.min(index.radius, cutBits);
  for (const q of queries) {
    searchWithin(index.mih, q, 0, limit, -1, (row, d) => {
      const seen = best.get(row);
      if (seen === undefined || d < seen) best.set(row, d);
    });
  }
  if (best.size < k && cutBits > index.radius) {
    // Not enough rows near: the k nearest include farther ones, so look at every row.
    for (let row = 0; row < fps.count; row++) {
      let d = Infinity;
      for (const q of queries) d = Math.min(d, hamming(q, 0, fps.data, row * fps.words, fps.words));
      if (d <= cutBits) best.set(row, d);
    }
  }
  return [...best.entries()]
    .map(([row, bits]) => ({ row, bits }))
    .sort((a, b) => a.bits - b.bits || a.row - b.row)
    .slice(0, k);
}
