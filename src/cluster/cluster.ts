/**
 * From a database's fingerprints to clusters of paths: fixes the row order (sorted paths), turns
 * the user's SIM into a cut height, and runs the exact linkage. Pure computation.
 */
import { bitString, selectRows, type PackedFingerprints } from '../hash/bits.js';
import { clusterPairs, type Linkage } from './linkage.js';
import { maxPairwiseBits, pairsWithin } from './neighbours.js';
import { pictureDistance, viewMaxBits, viewPairsWithin } from './views.js';

export interface CutOptions {
  /** The user's SIM: a fraction of the largest pairwise distance, or of the bits with `absolute`. */
  sim: number;
  /** t = sim (a fraction of the fingerprint's bits) instead of sim × largest distance. */
  absolute: boolean;
  method: Linkage;
  /** Cluster flat pictures too (they are left out by default). */
  includeFlat?: boolean;
}

/** What a database may add to the fingerprints. */
export interface FingerprintExtras {
  /** K rows per picture (row K·i + v: view v): distances become the minimum over views. */
  views?: PackedFingerprints;
  /** K. */
  viewsPerFile?: number;
  /** 1 for a flat picture. */
  flat?: Uint8Array;
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
  /** Flat pictures left out. */
  flatLeftOut: number;
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
export function cutHeight(maxBits: () => number, nbits: number, opts: CutOptions): { t: number; maxBits: number | undefined } {
  if (opts.absolute) return { t: opts.sim, maxBits: undefined };
  const m = maxBits();
  // scipy: t = SIM × max(pdist), pdist in fractions of bits.
  return { t: opts.sim * (m / nbits), maxBits: m };
}

/** Rows of a K-rows-per-picture set for the given pictures, in that order. */
function selectViews(views: PackedFingerprints, perFile: number, pictures: readonly number[]): PackedFingerprints {
  const rows: number[] = [];
  for (const p of pictures) for (let v = 0; v < perFile; v++) rows.push(p * perFile + v);
  return selectRows(views, rows);
}

export function clusterFingerprints(
  files: readonly string[],
  fps: PackedFingerprints,
  opts: CutOptions,
  extras: FingerprintExtras = {},
): Clustering {
  const keep = (i: number): boolean => opts.includeFlat || !extras.flat || extras.flat[i] !== 1;
  const order = canonicalOrder(files, fps).filter(keep);
  const sorted = selectRows(fps, order);
  const k = extras.viewsPerFile ?? 1;
  const views = extras.views && k > 1 ? selectViews(extras.views, k, order) : undefined;
  const { t, maxBits } = cutHeight(
    () => (views ? viewMaxBits(sorted, views, k) : maxPairwiseBits(sorted)),
    fps.nbits,
    opts,
  );
  const limitBits = t * fps.nbits * (1 + CUT_SLACK);
  const pairs = views ? viewPairsWithin(sorted, views, k, Math.floor(limitBits)) : pairsWithin(sorted, Math.floor(limitBits));
  const groups = clusterPairs(sorted, opts.method, limitBits, pairs, pictureDistance(sorted, views, k));
  const clusters = groups.filter((g) => g.length > 1).map((g) => g.map((row) => files[order[row]!]!));
  return { clusters, t, maxBits, count: sorted.count, flatLeftOut: fps.count - sorted.count };
}
