/**
 * From a database's fingerprints to clusters of paths: fixes the row order (sorted paths), turns
 * the user's SIM into a cut height, and runs the exact linkage. Pure computation.
 */
import { bitString, selectRows, type PackedFingerprints } from '../hash/bits.js';
import { clusterAtCut, type Linkage } from './linkage.js';
import { maxPairwiseBits } from './neighbours.js';

export interface CutOptions {
  /** The user's SIM: a fraction of the largest pairwise distance, or of the bits with `absolute`. */
  sim: number;
  /** t = sim (a fraction of the fingerprint's bits) instead of sim × largest distance. */
  absolute: boolean;
  method: Linkage;
}

export interface Clustering {
  /** Every cluster with more than one member: paths sorted, clusters ordered by first path. */
  clusters: string[][];
  /** The cut as a fraction of the fingerprint's bits (scipy's t). */
  t: number;
  /** Largest pairwise distance in bits (computed only when the cut is relative). */
  maxBits: number | undefined;
  /** Number of fingerprints clustered. */
  count: number;
}

/**
 * Merge heights equal to the cut count as inside it. Cut and heights are both products of
 * decimal fractions (SIM = 0.3, an average of bit counts), so a height that equals the cut on
 * paper may differ from it by an ulp; this relative slack, far below one bit in any average,
 * makes such a height count as equal.
 */
const CUT_SLACK = 1e-9;

/** Row order by path (code-unit order), then by bits for the rare duplicate path. */
export function canonicalOrder(files: readonly string[], fps: PackedFingerprints): number[] {
  const idx = files.map((_, i) => i);
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return idx.sort((i, j) => cmp(files[i]!, files[j]!) || cmp(bitString(fps, i), bitString(fps, j)));
}

/** The cut height t (a fraction of bits) for these options, and the largest distance if used. */
export function cutHeight(fps: PackedFingerprints, opts: CutOptions): { t: number; maxBits: number | undefined } {
  if (opts.absolute) return { t: opts.sim, maxBits: undefined };
  const maxBits = maxPairwiseBits(fps);
  // scipy: t = SIM × max(pdist), pdist in fractions of bits.
  return { t: opts.sim * (maxBits / fps.nbits), maxBits };
}

export function clusterFingerprints(files: readonly string[], fps: PackedFingerprints, opts: CutOptions): Clustering {
  const order = canonicalOrder(files, fps);
  const sorted = selectRows(fps, order);
  const { t, maxBits } = cutHeight(sorted, opts);
  const limitBits = t * fps.nbits * (1 + CUT_SLACK);
  const groups = clusterAtCut(sorted, opts.method, limitBits);
  const clusters = groups.filter((g) => g.length > 1).map((g) => g.map((row) => files[order[row]!]!));
  return { clusters, t, maxBits, count: fps.count };
}
